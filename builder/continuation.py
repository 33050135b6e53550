"""Continue a release chain in a CI job that starts with none: bring the earlier releases in.

A CI job checks out the runbooks, not the releases: those live where they were published
(the catalog site, which carries every release byte for byte under ``releases/``, or a
releases folder kept elsewhere). `bring_in` copies them into the job's releases folder so
the next release names the real head as its ``previous``:

  (1) read the chain from ``source``: a releases folder, a site folder, or a site URL
      (``file://``, ``http(s)://``; walked from ``assets/versions.js``'s head through each
      manifest's ``previous``);
  (2) write it into a hidden staging folder beside the releases and verify it there under
      the policy (signatures, signers, sources, chain; `verifier.release.verify_releases`);
  (3) only then move each release in; a release already present must be byte-identical.

Nothing is signed by this module; `builder.release.make_release` verifies the whole local
chain again under the same policy before it signs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from builder.fetch import (
    MAX_BUNDLE_BYTES,
    MAX_MANIFEST_BYTES,
    FetchError,
    _as_path,
    _get,
    _is_url,
    fetch_release,
    newest_on_site,
)
from builder.fsutil import fsync_dir, fsync_tree, rename_noreplace, write_synced
from verifier.errors import InputError, SealbookError
from verifier.files import read_limited
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest, valid_version
from verifier.policy import TrustPolicy
from verifier.release import Anchor, release_folders, verify_releases

MAX_CHAIN = 100_000
"""Releases walked at most from a site's head (a cycle guard)."""


class ContinuationError(SealbookError):
    """The earlier releases cannot be brought in (unreadable, or they do not verify)."""


def bring_in(
    source: str, releases: Path, policy: TrustPolicy, expect_latest: Anchor | None = None
) -> list[str]:
    """Steps (1)-(3): copy the verified chain at ``source`` into ``releases``; return new versions."""
    releases.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".tmp-continue-{os.getpid()}-", dir=releases))
    try:
        _stage(source, stage)  # (1)
        # (2)
        if not release_folders(stage):
            raise ContinuationError(source, "holds no releases", "check --continue-from")
        verdict = verify_releases(stage, policy, expect_latest)
        if not verdict.ok:
            bad = next(r for r in verdict.results if not r.ok)
            raise ContinuationError(
                f"{source}: release {bad.item}",
                f"does not verify under the policy ({bad.reason}: {bad.detail})",
                "nothing was signed; fix the published releases or the policy",
            )
        # (3)
        added = []
        for folder in release_folders(stage):
            target = releases / folder.name
            if target.exists():
                _same_release(folder, target, source)
                continue
            rename_noreplace(folder, target)
            added.append(folder.name)
        fsync_dir(releases)
        return added
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _same_release(fetched: Path, local: Path, source: str) -> None:
    """A release both here and at ``source`` must be the same signed release."""
    try:
        same = (local / MANIFEST_NAME).read_bytes() == (fetched / MANIFEST_NAME).read_bytes()
    except OSError:
        same = False
    if not same:
        raise ContinuationError(
            str(local),
            f"differs from release {fetched.name} at {source}",
            "releases are immutable: start from an empty --releases folder or fix the source",
        )


def _stage(source: str, stage: Path) -> None:
    """(1) The chain at ``source`` written under ``stage``, one folder per release."""
    if _is_url(source):
        _stage_from_url(source, stage)
        return
    folder = _as_path(source)
    if not folder.is_dir():
        raise InputError(
            str(folder), "no such folder", "give a releases folder, a site folder or a site URL"
        )
    # A site root holds releases/ beside its pages; anything else is a releases folder.
    releases = folder / "releases" if (folder / "releases").is_dir() else folder
    for release in release_folders(releases):
        _copy_release(release, stage / release.name)


def _copy_release(release: Path, target: Path) -> None:
    """Copy what the release's manifest names (nothing else) into ``target``."""
    manifest = read_limited(release / MANIFEST_NAME, MAX_MANIFEST_BYTES, "manifest.json")
    bundle = read_limited(release / BUNDLE_NAME, MAX_BUNDLE_BYTES, "the Sigstore bundle")
    _write(target, manifest, bundle)
    for runbook in Manifest.from_bytes(manifest, str(release / MANIFEST_NAME)).runbooks:
        source = release / runbook.path
        if source.is_file():  # a missing source fails verification, naming it
            write_synced(
                target / runbook.path, read_limited(source, MAX_MANIFEST_BYTES, "frozen source")
            )
    fsync_tree(target)


def _stage_from_url(site: str, stage: Path) -> None:
    """Walk a published site's chain from the head its versions.js names."""
    if site.startswith("file://"):
        _stage(str(_as_path(site)), stage)
        return
    version = newest_on_site(site)
    if version is None:
        raise InputError(
            site, "no chain head in assets/versions.js", "is this the root of a sealbook site?"
        )
    seen: set[str] = set()
    while version is not None and version not in seen and len(seen) < MAX_CHAIN:
        if not valid_version(version):  # versions.js is unverified: never a path
            raise InputError(
                site, f"names an invalid release version {version!r}", "check the site"
            )
        seen.add(version)
        try:
            files = fetch_release(site, version)
            manifest = Manifest.from_bytes(files.manifest, files.origin + MANIFEST_NAME)
            target = stage / version
            _write(target, files.manifest, files.bundle)
            for runbook in manifest.runbooks:
                data = _get(files.origin + runbook.path, MAX_MANIFEST_BYTES)
                write_synced(target / runbook.path, data)
        except FetchError as exc:
            raise InputError(exc.subject, exc.problem, exc.next_step) from None
        version = manifest.previous.version if manifest.previous else None


def _write(target: Path, manifest: bytes, bundle: bytes) -> None:
    write_synced(target / MANIFEST_NAME, manifest)
    write_synced(target / BUNDLE_NAME, bundle)
