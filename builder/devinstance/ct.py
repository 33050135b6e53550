"""The dev Certificate Transparency log: it only issues precertificate SCTs (RFC 6962).

Nothing is logged: sigstore verifies an SCT's signature, never the CT log's
contents, so an SCT signer is all the dev CA needs. The SCT is embedded in the
leaf certificate, which sigstore requires (exactly one, precertificate type).
"""

from __future__ import annotations

import hashlib
import struct

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

from builder.devinstance import der

_SCT_VERSION_V1 = 0
_SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP = 0
_ENTRY_TYPE_PRECERT = 1
_HASH_SHA256 = 4  # TLS HashAlgorithm
_SIGNATURE_ECDSA = 3  # TLS SignatureAlgorithm


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962 key id: SHA-256 of the DER SubjectPublicKeyInfo (also Rekor's log id)."""
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _u24(data: bytes) -> bytes:
    return len(data).to_bytes(3, "big") + data


def _u16(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


class CTLog:
    """Signs precertificate SCTs with the dev CT key."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.log_id = key_id(key.public_key())

    def precert_sct(
        self, tbs_precertificate: bytes, issuer_key_id: bytes, timestamp_ms: int
    ) -> bytes:
        """Return one TLS-encoded SCT over ``tbs_precertificate`` (RFC 6962 section 3.2).

        ``tbs_precertificate`` is the leaf's TBSCertificate without the SCT list
        extension; ``issuer_key_id`` is the SHA-256 of the issuing CA's SPKI.
        """
        no_extensions = b""
        signed = (
            struct.pack(
                "!BBQH",
                _SCT_VERSION_V1,
                _SIGNATURE_TYPE_CERTIFICATE_TIMESTAMP,
                timestamp_ms,
                _ENTRY_TYPE_PRECERT,
            )
            + issuer_key_id
            + _u24(tbs_precertificate)
            + _u16(no_extensions)
        )
        signature = self._key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return (
            struct.pack("!B", _SCT_VERSION_V1)
            + self.log_id
            + struct.pack("!Q", timestamp_ms)
            + _u16(no_extensions)
            + struct.pack("!BB", _HASH_SHA256, _SIGNATURE_ECDSA)
            + _u16(signature)
        )


def sct_list_extension(scts: list[bytes]) -> x509.UnrecognizedExtension:
    """The embedded-SCT-list X.509 extension: an OCTET STRING around the TLS list.

    cryptography can parse this extension but cannot build one from SCT objects,
    so it goes in as raw DER.
    """
    tls_list = _u16(b"".join(_u16(sct) for sct in scts))
    return x509.UnrecognizedExtension(
        ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS, der.octet_string(tls_list)
    )
