"""The dev instance's persisted key material: CA key and certificate, CT key, Rekor key.

Kept as PEM under the state folder (folder 0700, private keys 0600) so the
trusted root stays the same across restarts and old bundles keep verifying.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from verifier.errors import TrustError

CA_ORGANIZATION = "sealbook dev instance"
CA_COMMON_NAME = "sealbook-dev-root (DEV ONLY: certifies any identity)"
# Back-dated so every validFor.start in the trusted root is safely in the past:
# sigstore silently skips keys whose validity has not started yet.
_EPOCH_BACKDATE = dt.timedelta(hours=1)
_CA_LIFETIME = dt.timedelta(days=3650)

CA_KEY_FILE = "ca_key.pem"
CA_CERT_FILE = "ca_cert.pem"
CT_KEY_FILE = "ct_key.pem"
REKOR_KEY_FILE = "rekor_key.pem"
LOCK_FILE = ".lock"


@dataclass(frozen=True)
class DevKeys:
    """The keys of one dev instance; ``epoch`` is when its trust starts (validFor.start)."""

    ca_key: ec.EllipticCurvePrivateKey
    ca_cert: x509.Certificate
    ct_key: ec.EllipticCurvePrivateKey
    rekor_key: ec.EllipticCurvePrivateKey

    @property
    def epoch(self) -> dt.datetime:
        """Start of validity of every key in the trusted root (the CA's notBefore)."""
        return self.ca_cert.not_valid_before_utc


def prepare_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` as 0700, or refuse one that others may write into."""
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = state_dir.stat().st_mode
    # Like ssh's StrictModes: whoever can write here can swap the keys.
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise TrustError(
            str(state_dir),
            "dev instance state folder is writable by group or others",
            f"run `chmod 700 {state_dir}` or choose another --state folder",
        )


@contextmanager
def state_lock(state_dir: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``state_dir`` (two instances may share one folder)."""
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: never overwrite a key a concurrent process has just created.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _root_ca_certificate(key: ec.EllipticCurvePrivateKey, epoch: dt.datetime) -> x509.Certificate:
    """A self-signed root that passes cryptography's WebPKI rules for a CA."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, CA_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(epoch)
        .not_valid_after(epoch + _CA_LIFETIME)
        # path_length 0: the dev root issues leaves directly, never intermediates.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )


def _create(state_dir: Path) -> None:
    epoch = dt.datetime.now(dt.UTC).replace(microsecond=0) - _EPOCH_BACKDATE
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _root_ca_certificate(ca_key, epoch)
    _write_private(state_dir / CA_KEY_FILE, _private_pem(ca_key))
    _write_private(state_dir / CT_KEY_FILE, _private_pem(ec.generate_private_key(ec.SECP256R1())))
    _write_private(
        state_dir / REKOR_KEY_FILE, _private_pem(ec.generate_private_key(ec.SECP256R1()))
    )
    # Written last: its presence marks a complete set.
    _write_private(state_dir / CA_CERT_FILE, ca_cert.public_bytes(serialization.Encoding.PEM))


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise TrustError(
            str(path), f"dev instance key is unreadable ({exc})", "delete the state folder"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise TrustError(str(path), "dev instance key is not an EC key", "delete the state folder")
    return key


def load_or_create(state_dir: Path) -> DevKeys:
    """Load the keys under ``state_dir``, creating a fresh set on first use.

    The caller holds :func:`state_lock`, so concurrent first starts agree on one set.
    """
    if not (state_dir / CA_CERT_FILE).exists():
        leftovers = [
            f for f in (CA_KEY_FILE, CT_KEY_FILE, REKOR_KEY_FILE) if (state_dir / f).exists()
        ]
        if leftovers:
            raise TrustError(
                str(state_dir),
                f"incomplete dev instance keys ({', '.join(leftovers)} without {CA_CERT_FILE})",
                "delete the state folder and start again",
            )
        _create(state_dir)
    cert_path = state_dir / CA_CERT_FILE
    try:
        ca_cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise TrustError(
            str(cert_path), f"dev CA certificate is unreadable ({exc})", "delete the state folder"
        ) from exc
    return DevKeys(
        ca_key=_load_private(state_dir / CA_KEY_FILE),
        ca_cert=ca_cert,
        ct_key=_load_private(state_dir / CT_KEY_FILE),
        rekor_key=_load_private(state_dir / REKOR_KEY_FILE),
    )
