"""Verify a signed manifest on its own, without the release's frozen sources.

`sealbook run` needs only what was signed: ``manifest.json`` and its bundle carry every
snippet's signed text, so an incident host pulls those two files (from a releases
folder or the published site) and nothing else. `verify_signed_manifest` applies the
steps of `verifier.release.verify_release` that do not need the sources:

  (1) parse the bundle (malformed: `InputError`);
  (2) verify the bundle over the manifest's exact bytes under the policy
      (`VerificationError`: ``signature-invalid``, ``signer-not-allowed``, ...);
  (3) parse the manifest; its version must be the one asked for (``version-mismatch``);
  (5) every snippet's signed text matches its digest (``snippet-digest-mismatch``).

Step (4) (frozen sources) is the auditor's: ``sealbook-verify release``.
`check_signed_manifest` is steps (3) and (5) alone, for a caller that already holds
the verified signature facts of exactly these bytes (a verdict cache).
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.digests import digest
from verifier.errors import VerificationError
from verifier.manifest import Manifest
from verifier.policy import TrustPolicy
from verifier.signature import SignatureFacts, parse_bundle, verify_signature


@dataclass(frozen=True)
class SignedManifest:
    """A manifest whose signature, signer and snippet digests verified."""

    manifest: Manifest
    manifest_bytes: bytes
    manifest_digest: str
    bundle_digest: str
    signature: SignatureFacts

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def dev(self) -> bool:
        return self.signature.dev

    def facts(self) -> dict[str, object]:
        """Provenance for reports and messages."""
        return {
            "version": self.version,
            "manifest_digest": self.manifest_digest,
            **self.signature.to_json(),
        }


def verify_signed_manifest(
    manifest_bytes: bytes,
    bundle_bytes: bytes,
    policy: TrustPolicy,
    subject: str,
    version: str | None = None,
) -> SignedManifest:
    """Steps (1), (2), (3), (5); raise `InputError` or `VerificationError` naming ``subject``."""
    # (1)
    bundle = parse_bundle(bundle_bytes, f"{subject}: bundle")
    # (2)
    signature = verify_signature(manifest_bytes, bundle, policy, subject)
    return check_signed_manifest(manifest_bytes, bundle_bytes, signature, subject, version)


def check_signed_manifest(
    manifest_bytes: bytes,
    bundle_bytes: bytes,
    signature: SignatureFacts,
    subject: str,
    version: str | None = None,
) -> SignedManifest:
    """Steps (3) and (5) for bytes whose signature is known to verify as ``signature``."""
    # (3)
    manifest = Manifest.from_bytes(manifest_bytes, f"{subject}: manifest.json")
    if version is not None and manifest.version != version:
        raise VerificationError(
            "version-mismatch",
            subject,
            f"manifest says version {manifest.version!r}, not {version!r}",
            "the release was renamed or replaced; fetch it from its origin",
        )
    # (5)
    for runbook in manifest.runbooks:
        for snippet in runbook.snippets:
            if digest(snippet.text.encode("utf-8")) != snippet.digest:
                raise VerificationError(
                    "snippet-digest-mismatch",
                    f"{subject}: {runbook.slug}#{snippet.id}",
                    "signed text differs from its digest",
                    "restore the release from its origin",
                )
    return SignedManifest(
        manifest, manifest_bytes, digest(manifest_bytes), digest(bundle_bytes), signature
    )
