"""What the dev instance publishes for clients: trusted root, trust config, dev policy.

The trusted root depends only on the persisted keys, so it is byte-for-byte
stable across restarts. The trust config adds the signing config, whose URLs
change with every start (a fresh loopback port).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from builder.devinstance import ct
from builder.devinstance.keys import CA_COMMON_NAME, CA_ORGANIZATION, DevKeys
from builder.devinstance.oidc import DEV_IDENTITY, DEV_ISSUER

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
OPERATOR = "dev.sealbook.invalid"
# Names, not addresses: the trusted root must not change with the port, and
# verification never contacts these. `.invalid` never resolves (RFC 2606).
CA_URI = "https://fulcio.dev.sealbook.invalid"
REKOR_URI = "https://rekor.dev.sealbook.invalid"
CT_URI = "https://ctfe.dev.sealbook.invalid"

TRUSTED_ROOT_FILE = "trusted_root.json"
TRUST_CONFIG_FILE = "trust_config.json"
POLICY_FILE = "sealbook.dev.toml"

POLICY_TOML = f"""\
# Dev policy written by `sealbook dev-instance`. Its root certifies ANY identity: never use it for production.
[trust.roots.dev]
trusted_root = "{TRUSTED_ROOT_FILE}"
dev = true

[[trust.signers]]
identity = "{DEV_IDENTITY}"
issuer = "{DEV_ISSUER}"
root = "dev"
"""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _timestamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log_instance(key: ec.EllipticCurvePrivateKey, base_url: str, start: str) -> dict[str, object]:
    public_key = key.public_key()
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": _b64(spki),
            # Must match the key: sigstore picks the signature hash from it.
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": {"start": start},
        },
        "logId": {"keyId": _b64(ct.key_id(public_key))},
    }


def trusted_root(keys: DevKeys) -> dict[str, object]:
    """The dev trusted root: the CA, the Rekor log and the CT log; no timestamp authority."""
    start = _timestamp(keys.epoch)
    ca_der = keys.ca_cert.public_bytes(serialization.Encoding.DER)
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": [_log_instance(keys.rekor_key, REKOR_URI, start)],
        "certificateAuthorities": [
            {
                "subject": {"organization": CA_ORGANIZATION, "commonName": CA_COMMON_NAME},
                "uri": CA_URI,
                "certChain": {"certificates": [{"rawBytes": _b64(ca_der)}]},
                "validFor": {"start": start},
            }
        ],
        "ctlogs": [_log_instance(keys.ct_key, CT_URI, start)],
        "timestampAuthorities": [],
    }


def _service(url: str, start: str) -> dict[str, object]:
    return {"url": url, "majorApiVersion": 1, "validFor": {"start": start}, "operator": OPERATOR}


def trust_config(keys: DevKeys, url: str) -> dict[str, object]:
    """A full ClientTrustConfig: the trusted root plus a signing config pointing at ``url``.

    One loopback server answers both Fulcio (``/api/v2/signingCert``) and Rekor v1
    (``/api/v1/log/entries``), so both services share ``url``.
    """
    start = _timestamp(keys.epoch)
    return {
        "mediaType": TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": trusted_root(keys),
        "signingConfig": {
            "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
            "caUrls": [_service(url, start)],
            "oidcUrls": [],
            "rekorTlogUrls": [_service(url, start)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }


def to_json(document: dict[str, object]) -> bytes:
    """Serialise a trust document the same way every time (stable bytes across restarts)."""
    return (json.dumps(document, indent=2) + "\n").encode()


def write_atomically(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` so a reader never sees a half-written file.

    Unchanged content is left alone, so the file's mtime says when trust last changed.
    """
    try:
        if path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
