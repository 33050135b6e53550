"""Turn verified releases (or a working tree, for previews) into the site's inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from builder.site.model import Provenance, ReleaseInput
from builder.site.views import SiteContext
from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.manifest import SOURCES_DIR
from verifier.policy import TrustPolicy
from verifier.release import VerifiedRelease

SITE_NAME = "Runbooks"


def release_input(rel: VerifiedRelease) -> ReleaseInput:
    """A verified release as the site sees it."""
    sig = rel.signature
    return ReleaseInput(
        manifest=rel.manifest,
        manifest_bytes=rel.manifest_bytes,
        manifest_digest=rel.manifest_digest,
        bundle_bytes=rel.bundle_bytes,
        provenance=Provenance(
            version=rel.version,
            manifest_digest=rel.manifest_digest,
            identity=sig.identity,
            issuer=sig.issuer,
            log_index=sig.log_index,
            signed_at=sig.signed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            root=sig.root,
            dev=sig.dev,
        ),
        sources=rel.path / SOURCES_DIR,
    )


def site_context(policy: TrustPolicy | None, sealbook: str, *, preview: bool) -> SiteContext:
    """Site-wide facts: the policy's roots (offered for download) and signers."""
    if policy is None:
        return SiteContext(SITE_NAME, None, preview, sealbook, (), ())
    roots = tuple(
        {
            "name": name,
            "fingerprint": root.fingerprint,
            "pinned": root.pinned,
            "dev": root.dev,
            "url": layout.trusted_root_file(root.fingerprint),
        }
        for name, root in sorted(policy.roots.items())
    )
    signers = tuple(
        {"identity": s.label, "issuer": s.issuer, "root": s.root} for s in policy.signers
    )
    return SiteContext(SITE_NAME, policy.site_url, preview, sealbook, roots, signers)


def root_files(policy: TrustPolicy) -> dict[str, bytes]:
    """Trusted roots offered for download: fingerprint -> bytes."""
    return {root.fingerprint: root.raw for root in policy.roots.values()}


def preview_input(manifest_bytes: bytes, manifest: object, runbooks: Path) -> ReleaseInput:
    """The working tree as one unsigned pseudo-release named ``preview``."""
    from verifier.manifest import Manifest

    assert isinstance(manifest, Manifest)
    return ReleaseInput(
        manifest=manifest,
        manifest_bytes=manifest_bytes,
        manifest_digest=digest(manifest_bytes),
        bundle_bytes=None,
        provenance=None,
        sources=runbooks,
    )


def now() -> str:
    """The current UTC time as the manifest's ``created`` format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
