"""Turn verified releases (or a working tree, for previews) into the site's inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from builder.runbook import Catalog, Problem
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


def preview_problems(
    catalog: Catalog, problems: list[Problem]
) -> dict[str, tuple[dict[str, Any], ...]]:
    """slug -> the problems ``check`` found in that runbook, each placed beside its snippet when
    its line falls inside the block; ``""`` -> problems of files that have no page."""
    by_path = {r.path: r for r in catalog.runbooks + catalog.broken}
    found: dict[str, list[dict[str, Any]]] = {}
    for problem in problems:
        runbook = by_path.get(problem.path)
        snippet = None
        if runbook is not None:
            for s in runbook.snippets:
                if s.line <= problem.line <= s.line + s.raw.count("\n") + 1:
                    snippet = s.id
        entry = {
            "path": problem.path,
            "line": problem.line,
            "severity": problem.severity,
            "code": problem.code,
            "message": problem.message,
            "snippet": snippet,
        }
        found.setdefault(runbook.slug if runbook is not None else "", []).append(entry)
    return {slug: tuple(entries) for slug, entries in found.items()}
