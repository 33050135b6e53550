"""The dev Fulcio: a CA that certifies the identity named in a dev token.

It issues what sigstore's verifier expects of a Fulcio leaf: the client's EC
P-256 key, keyUsage digitalSignature, EKU codeSigning, the identity as SAN,
the OIDC issuer extensions (.1.1 raw, .1.8 DER UTF8String), a ten-minute
validity, and exactly one embedded precertificate SCT from the dev CT log.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from builder.devinstance import ct, der
from builder.devinstance.errors import RequestRejected
from builder.devinstance.oidc import Claims

OIDC_ISSUER_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OIDC_ISSUER_V2_OID = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
FULCIO_OID_PREFIX = "1.3.6.1.4.1.57264.1."

LEAF_LIFETIME = dt.timedelta(minutes=10)
# Backdated so a verifier whose clock is a little behind still sees a valid leaf.
LEAF_BACKDATE = dt.timedelta(seconds=30)


def _subject_alternative_name(identity: str) -> x509.GeneralName:
    # sigstore's identity policy matches email, URI or its OtherName; email and
    # URI cover every identity a dev user means to sign as.
    if "://" in identity:
        return x509.UniformResourceIdentifier(identity)
    if "@" in identity and identity.isascii():
        return x509.RFC822Name(identity)
    raise RequestRejected(
        f"identity {identity!r} is neither an email address nor a URI; the dev CA certifies only those"
    )


class CertificateAuthority:
    """Issues leaf certificates under the dev root CA, with an embedded SCT."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, ct_log: ct.CTLog):
        self._key = key
        self.cert = cert
        self._ct_log = ct_log
        self._issuer_key_id = ct.key_id(key.public_key())
        self._authority_key_identifier = x509.AuthorityKeyIdentifier.from_issuer_public_key(
            key.public_key()
        )

    def issue(self, csr_pem: bytes, claims: Claims) -> x509.Certificate:
        """Return a leaf certificate for the CSR's key, certifying ``claims``."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as exc:
            raise RequestRejected(f"certificate signing request is unreadable: {exc}") from exc
        # Proof of possession: only the holder of the private key may get it certified.
        if not csr.is_signature_valid:
            raise RequestRejected("certificate signing request signature is invalid")
        public_key = csr.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or not isinstance(
            public_key.curve, ec.SECP256R1
        ):
            raise RequestRejected("only EC P-256 keys are certified (sigstore signs with them)")

        # Whole seconds: sigstore rebuilds the SCT's millisecond timestamp through a
        # float, which can be off by one for arbitrary milliseconds.
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - LEAF_BACKDATE)
            .not_valid_after(now - LEAF_BACKDATE + LEAF_LIFETIME)
            .add_extension(x509.KeyUsage(**_DIGITAL_SIGNATURE_ONLY), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), False)
            .add_extension(self._authority_key_identifier, critical=False)
            # An empty subject makes the SAN the only name, hence critical (RFC 5280 4.2.1.6).
            .add_extension(
                x509.SubjectAlternativeName([_subject_alternative_name(claims.identity)]), True
            )
            .add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_OID, claims.issuer.encode()), False
            )
            .add_extension(
                x509.UnrecognizedExtension(OIDC_ISSUER_V2_OID, der.utf8_string(claims.issuer)),
                False,
            )
        )
        for arc, value, is_der in claims.extensions:
            raw = der.utf8_string(value) if is_der else value.encode()
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ObjectIdentifier(FULCIO_OID_PREFIX + arc), raw), False
            )
        # The SCT signs the precertificate TBS: the final TBS minus the SCT list.
        # Building without it first gives exactly those bytes, because the SCT
        # extension goes last and everything else is identical.
        precert = builder.sign(self._key, hashes.SHA256())
        sct = self._ct_log.precert_sct(
            precert.tbs_certificate_bytes, self._issuer_key_id, int(now.timestamp()) * 1000
        )
        leaf = builder.add_extension(ct.sct_list_extension([sct]), critical=False).sign(
            self._key, hashes.SHA256()
        )
        return leaf


_DIGITAL_SIGNATURE_ONLY = {
    "digital_signature": True,
    "content_commitment": False,
    "key_encipherment": False,
    "data_encipherment": False,
    "key_agreement": False,
    "key_cert_sign": False,
    "crl_sign": False,
    "encipher_only": False,
    "decipher_only": False,
}


def csr_from_request(request: object) -> bytes:
    """Extract the PEM CSR from a Fulcio v2 ``signingCert`` request body.

    The body is ``{"certificateSigningRequest": base64(PEM CSR)}``, as
    sigstore-python's Fulcio client sends it.
    """
    if not isinstance(request, dict) or not isinstance(
        request.get("certificateSigningRequest"), str
    ):
        raise RequestRejected("request needs a certificateSigningRequest string")
    try:
        return base64.b64decode(request["certificateSigningRequest"], validate=True)
    except binascii.Error as exc:
        raise RequestRejected(f"certificateSigningRequest is not base64: {exc}") from exc


def signing_cert_response(chain: list[x509.Certificate]) -> dict[str, object]:
    """The Fulcio v2 response body: the chain, leaf first, as PEM strings."""
    pems = [cert.public_bytes(Encoding.PEM).decode() for cert in chain]
    return {"signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}}
