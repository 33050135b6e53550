"""Offline verification of one Sigstore bundle over exact bytes, under a trust policy.

Steps (numbered in the code):
  (1) parse the bundle (malformed: `InputError`);
  (2) for each root of the policy, verify the bundle with the real sigstore `Verifier`
      and the signers bound to that root (signature, chain, SCT, log proof, SET/TSA time);
  (3) if no root accepts it, decide why: a good signature by a signer the policy does not
      allow (`signer-not-allowed`), a certificate from a sealbook dev instance while the
      policy lists no dev root (`dev-root-not-allowed`), or anything else
      (`signature-invalid`);
  (4) report the verified facts: root, identity, issuer, log index, verified signing time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from verifier.errors import InputError, VerificationError
from verifier.policy import AllowedSigner, TrustPolicy, TrustRoot

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import Bundle

MAX_BUNDLE_BYTES = 1 << 20
ISSUER_OID = "1.3.6.1.4.1.57264.1.1"
ISSUER_V2_OID = "1.3.6.1.4.1.57264.1.8"
DEV_CA_MARKER = "sealbook dev"


@dataclass(frozen=True)
class SignatureFacts:
    """What a verified bundle proves."""

    root: str
    dev: bool
    identity: str
    issuer: str
    log_index: int
    signed_at: datetime
    """The verified signing time (log integrated time with a SET, or a TSA timestamp)."""

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "dev": self.dev,
            "identity": self.identity,
            "issuer": self.issuer,
            "log_index": self.log_index,
            "signed_at": self.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def parse_bundle(raw: bytes, source: str) -> Bundle:
    """(1) Parse a Sigstore bundle or raise `InputError` naming ``source``."""
    from sigstore.models import Bundle

    if len(raw) > MAX_BUNDLE_BYTES:
        raise InputError(source, "bundle larger than 1 MiB", "is this a Sigstore bundle?")
    try:
        return Bundle.from_json(raw)
    except Exception as exc:  # noqa: BLE001 - InvalidBundle, pydantic and JSON errors alike
        first_line = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InputError(
            source, f"malformed Sigstore bundle ({first_line})", "restore the bundle"
        ) from None


def verify_signature(
    data: bytes, bundle: Bundle, policy: TrustPolicy, subject: str
) -> SignatureFacts:
    """Verify ``bundle`` over ``data`` offline under ``policy``; raise `VerificationError`."""
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.verify import policy as sigpolicy

    # (2) Each root only accepts the signers bound to it.
    for root in policy.roots.values():
        signers = policy.signers_for(root.name)
        if not signers:
            continue
        allowed = sigpolicy.AnyOf([s.sigstore_policy() for s in signers])
        try:
            root.verifier().verify_artifact(data, bundle, allowed)
        except SigstoreVerificationError:
            continue
        return _facts(bundle, root, signers)
    raise _why_rejected(data, bundle, policy, subject)


def _why_rejected(
    data: bytes, bundle: Bundle, policy: TrustPolicy, subject: str
) -> VerificationError:
    """(3) Tell a disallowed signer from a bad signature."""
    from sigstore.errors import VerificationError as SigstoreVerificationError
    from sigstore.verify import policy as sigpolicy

    cert = bundle.signing_certificate
    identity, issuer = certificate_identity(cert)
    quiet = logging.getLogger("sigstore.verify.policy")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # UnsafeNoOp warns by design; we only probe the signature
    try:
        for root in policy.roots.values():
            try:
                root.verifier().verify_artifact(data, bundle, sigpolicy.UnsafeNoOp())
            except SigstoreVerificationError:
                continue
            return VerificationError(
                "signer-not-allowed",
                subject,
                f"signed by {identity} ({issuer}{_claims_note(cert)}) under root {root.name!r}, which the policy does not allow",
                "add the signer to the policy only if you trust it",
            )
    finally:
        quiet.setLevel(level)
    ca = cert.issuer.rfc4514_string()
    if DEV_CA_MARKER in ca.lower() and not policy.dev:
        return VerificationError(
            "dev-root-not-allowed",
            subject,
            f"signed by a sealbook dev instance ({ca}), whose root this policy does not list",
            "dev signatures prove nothing in production; re-release with the production signer",
        )
    return VerificationError(
        "signature-invalid",
        subject,
        "the Sigstore bundle does not verify for these bytes under any root of the policy",
        "the file or its bundle was altered, or it was signed under another root",
    )


def _claims_note(cert: Certificate) -> str:
    """The certificate's repository, ref and trigger, when it has them (what claims rules match)."""
    from verifier.claims import certificate_claims

    found = certificate_claims(
        cert, ("source_repository_uri", "source_repository_ref", "build_trigger")
    )
    return "".join(f"; {name} {value}" for name, value in found.items())


def _facts(bundle: Bundle, root: TrustRoot, signers: list[AllowedSigner]) -> SignatureFacts:
    """(4) Facts of a verified bundle."""
    identity, issuer = certificate_identity(bundle.signing_certificate)
    entry = bundle.log_entry._inner
    return SignatureFacts(
        root=root.name,
        dev=root.dev,
        identity=identity,
        issuer=issuer,
        log_index=int(entry.log_index),
        signed_at=signing_time(bundle),
    )


def signing_time(bundle: Bundle) -> datetime:
    """The time a bundle says it was signed: its log entry's, else its earliest RFC 3161 one.

    Only a verified bundle's time proves anything (`verify_bundle` checks it first).
    """
    entry = bundle.log_entry._inner
    if entry.integrated_time and entry.inclusion_promise:
        return datetime.fromtimestamp(int(entry.integrated_time), tz=UTC)
    # Rekor v2 entries carry no integrated time; the verifier checked the RFC 3161 timestamps.
    tvd = bundle.verification_material.timestamp_verification_data
    times = [ts.tst_info.gen_time for ts in (tvd.rfc3161_timestamps if tvd else [])]
    if not times:  # pragma: no cover - sigstore refuses bundles without a verified time
        raise ValueError("bundle has no verified time")
    earliest = min(times)
    return earliest if earliest.tzinfo else earliest.replace(tzinfo=UTC)


def certificate_identity(cert: Certificate) -> tuple[str, str]:
    """(SAN identity, OIDC issuer) of a Fulcio certificate, for reports."""
    from cryptography import x509

    identity = "<none>"
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        values = [
            *san.get_values_for_type(x509.RFC822Name),
            *san.get_values_for_type(x509.UniformResourceIdentifier),
        ]
        values += [
            o.value.decode("utf-8", "replace") for o in san.get_values_for_type(x509.OtherName)
        ]
        if values:
            identity = values[0]
    except x509.ExtensionNotFound:
        pass
    issuer = "<none>"
    for ext in cert.extensions:
        if ext.oid.dotted_string == ISSUER_OID and isinstance(
            ext.value, x509.UnrecognizedExtension
        ):
            issuer = ext.value.value.decode("utf-8", "replace")
        elif ext.oid.dotted_string == ISSUER_V2_OID and isinstance(
            ext.value, x509.UnrecognizedExtension
        ):
            raw = ext.value.value
            # DER UTF8String: tag 0x0c, short length.
            if len(raw) > 2 and raw[0] == 0x0C and raw[1] < 0x80:
                issuer = raw[2 : 2 + raw[1]].decode("utf-8", "replace")
    return identity, issuer
