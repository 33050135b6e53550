"""Verify a signed manifest on its own, without the release's frozen sources.

`sealbook run` needs only what was signed: ``manifest.json`` and its bundle carry every
snippet's signed text, so an incident host pulls those two files (from a releases
folder or the published site) and nothing else. `verify_signed_manifest` applies the
steps of `verifier.release.verify_release` that do not need the sources:

  (1) parse the bundle (malformed: `InputError`);
  (2) the digest the bundle signed is the manifest's (``manifest-digest-mismatch``), and
      the bundle verifies over the manifest's exact bytes under the policy
      (`VerificationError`: ``signature-invalid``, ``signer-not-allowed``, ...);
  (3) parse the manifest; its version must be the one asked for (``version-mismatch``);
  (5) every snippet's signed text matches its digest (``snippet-digest-mismatch``).

Step (4) (frozen sources) is the auditor's: ``sealbook-verify release``.
`check_signed_manifest` is steps (3) and (5) alone, for a caller that already holds
the verified signature facts of exactly these bytes (a verdict cache).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from verifier.digests import digest
from verifier.errors import VerificationError
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest
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
    bundle = parse_bundle(bundle_bytes, _within(subject, BUNDLE_NAME))
    # (2) The bundle names the digest it signed: a mismatch means manifest.json changed.
    signed = bundle._inner.message_signature
    signed_digest = signed.message_digest if signed is not None else None
    if (
        signed_digest is not None
        and signed_digest.digest != hashlib.sha256(manifest_bytes).digest()
    ):
        raise VerificationError(
            "manifest-digest-mismatch",
            subject,
            f"manifest.json ({digest(manifest_bytes)}) is not the manifest that was signed",
            "restore manifest.json from the release's origin",
        )
    signature = verify_signature(manifest_bytes, bundle, policy, subject)
    return check_signed_manifest(manifest_bytes, bundle_bytes, signature, subject, version)


def check_signed_manifest(
    manifest_bytes: bytes,
    bundle_bytes: bytes,
    signature: SignatureFacts,
    subject: str,
    version: str | None = None,
    *,
    checked: bool = False,
) -> SignedManifest:
    """Steps (3) and (5) for bytes whose signature is known to verify as ``signature``.

    ``checked``: a verdict over exactly these bytes already covers (3) and (5) (see
    `Manifest.from_checked_bytes`); only the version is compared.
    """
    # (3)
    if checked:
        manifest = Manifest.from_checked_bytes(manifest_bytes)
    else:
        manifest = Manifest.from_bytes(manifest_bytes, _within(subject, MANIFEST_NAME))
    if version is not None and manifest.version != version:
        raise VerificationError(
            "version-mismatch",
            subject,
            f"manifest says version {manifest.version!r}, not {version!r}",
            "the release was renamed or replaced; fetch it from its origin",
        )
    # (5)
    for runbook in () if checked else manifest.runbooks:
        for snippet in runbook.snippets:
            if (found := digest(snippet.text.encode("utf-8"))) != snippet.digest:
                raise VerificationError(
                    "snippet-digest-mismatch",
                    f"{subject}: {runbook.slug}#{snippet.id}",
                    f"signed text hashes to {found}, its signed digest is {snippet.digest}",
                    "restore the release from its origin",
                )
    return SignedManifest(
        manifest, manifest_bytes, digest(manifest_bytes), digest(bundle_bytes), signature
    )


def _within(subject: str, name: str) -> str:
    """``name`` inside the release ``subject`` (a folder path or a URL), for messages."""
    return subject + name if subject.endswith("/") else f"{subject}/{name}"
