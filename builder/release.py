"""Freeze runbooks into an immutable release and sign its manifest.

A release is written to a hidden temporary folder beside the others, fsync'd, and
renamed into place in one step that never replaces an existing version; a crash
leaves either the complete release or nothing (a stale ``.tmp-*`` folder, ignored
by every reader and removed by the next release). One release is made at a time: each holds
an exclusive ``flock`` on ``releases/.lock`` from reading the chain's head to the rename, so
two concurrent releases cannot both name the same head as their previous (a fork).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from builder.fsutil import (
    exclusive,
    fsync_dir,
    fsync_tree,
    lock_file,
    rename_noreplace,
    write_synced,
)
from builder.runbook import Catalog, SourceRunbook
from builder.sign import SigningTarget, signer_for
from verifier.digests import digest
from verifier.errors import InputError, SealbookError, UsageError
from verifier.files import read_regular
from verifier.manifest import (
    BUNDLE_NAME,
    MANIFEST_NAME,
    SOURCES_DIR,
    LinkedFile,
    Manifest,
    Previous,
    Retired,
    Runbook,
    Snippet,
    valid_version,
)
from verifier.policy import TrustPolicy
from verifier.release import MAX_MANIFEST_BYTES, release_folders
from verifier.signature import MAX_BUNDLE_BYTES

SIGNING_TRIES = 3
"""Signatures made at most, a second apart, to get a signing time after the head's."""


class ReleaseError(SealbookError):
    """The release cannot be made (exists, chain unclear, check failed)."""


@dataclass(frozen=True)
class History:
    """The existing chain, read structurally (the verifier checks signatures)."""

    manifests: list[Manifest]
    """Genesis first."""
    head_digest: str | None

    @property
    def head(self) -> Manifest | None:
        return self.manifests[-1] if self.manifests else None


def read_history(releases: Path) -> History:
    """Read every release manifest and order the chain; refuse a forked or broken one."""
    if not releases.exists():
        return History([], None)
    by_version: dict[str, tuple[Manifest, str]] = {}
    for folder in release_folders(releases):
        try:
            raw = read_regular(folder / MANIFEST_NAME, MAX_MANIFEST_BYTES)
        except OSError:
            raise InputError(
                str(folder),
                "release has no readable manifest.json",
                "run `sealbook-verify releases` to see what is wrong",
            ) from None
        by_version[folder.name] = (
            Manifest.from_bytes(raw, str(folder / MANIFEST_NAME)),
            digest(raw),
        )
    if not by_version:
        return History([], None)
    named = {m.previous.version for m, _ in by_version.values() if m.previous}
    heads = [v for v in by_version if v not in named]
    if len(heads) != 1:
        raise ReleaseError(
            str(releases),
            f"the release chain has {len(heads)} heads {sorted(heads)}",
            "run `sealbook-verify releases` and repair the chain first",
        )
    chain: list[Manifest] = []
    current: str | None = heads[0]
    while current is not None:
        if current not in by_version:
            raise ReleaseError(
                str(releases),
                f"release {current} is missing from the chain",
                "run `sealbook-verify releases`",
            )
        manifest, _ = by_version[current]
        chain.append(manifest)
        prev = manifest.previous
        if (
            prev is not None
            and prev.version in by_version
            and by_version[prev.version][1] != prev.manifest_digest
        ):
            raise ReleaseError(
                str(releases),
                f"release {prev.version} differs from what {current} was signed over",
                "run `sealbook-verify releases`",
            )
        current = prev.version if prev else None
        if len(chain) > len(by_version):
            raise ReleaseError(
                str(releases), "the release chain has a cycle", "run `sealbook-verify releases`"
            )
    chain.reverse()
    return History(chain, by_version[heads[0]][1])


def freeze(
    catalog: Catalog, version: str, history: History, created: str, commit: str | None
) -> Manifest:
    """Build the manifest of a new release from checked sources and the chain so far."""
    revisions: dict[str, dict[str, int]] = {}
    for past in history.manifests:
        for rb in past.runbooks:
            seen = revisions.setdefault(rb.slug, {})
            seen.setdefault(rb.digest, len(seen) + 1)
    runbooks = []
    for source in catalog.runbooks:
        source_digest = digest(source.source)
        seen = revisions.setdefault(source.slug, {})
        revision = seen.setdefault(source_digest, len(seen) + 1)
        runbooks.append(_frozen(source, source_digest, revision))
    head = history.head
    retired: list[Retired] = []
    if head is not None:
        current = {rb.slug for rb in runbooks}
        retired = [
            Retired(rb.slug, rb.title, head.version, rb.digest)
            for rb in head.runbooks
            if rb.slug not in current
        ]
    previous = None
    if head is not None and history.head_digest is not None:
        previous = Previous(head.version, history.head_digest)
    return Manifest(
        version=version,
        created=created,
        source_commit=commit,
        previous=previous,
        runbooks=tuple(sorted(runbooks, key=lambda r: r.slug)),
        retired=tuple(retired),
        files=tuple(
            LinkedFile(f"{SOURCES_DIR}/{path}", digest(data)) for path, data in catalog.files
        ),
    )


def _frozen(source: SourceRunbook, source_digest: str, revision: int) -> Runbook:
    snippets = tuple(
        Snippet(
            id=s.id,
            language=s.language,
            executable=s.executable,
            line=s.line,
            params=tuple(s.params),
            digest=digest(s.text.encode("utf-8")),
            text=s.text,
            secrets=tuple(p for p in s.secrets if p in s.params),
        )
        for s in source.snippets
    )
    return Runbook(
        slug=source.slug,
        title=source.title,
        metadata=source.metadata,
        path=f"{SOURCES_DIR}/{source.slug}.md",
        digest=source_digest,
        revision=revision,
        snippets=snippets,
    )


def source_commit(runbooks: Path) -> str | None:
    """The git commit the runbooks come from, when known (``$GITHUB_SHA`` or ``git``)."""
    if os.environ.get("GITHUB_SHA"):
        return os.environ["GITHUB_SHA"]
    try:
        out = subprocess.run(
            ["git", "-C", str(runbooks), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None


def make_release(
    catalog: Catalog,
    version: str,
    releases: Path,
    target: SigningTarget,
    policy: TrustPolicy | None = None,
    continue_from: str | None = None,
) -> Path:
    """Freeze, sign and write release ``version`` under ``releases``; return its folder.

    With a ``policy``, nothing is signed unless the releases already there (after bringing
    in those at ``continue_from``, see `builder.continuation`) verify under it, and nothing
    is written unless the new signature verifies under it too: a release whose signer the
    policy does not allow would be written once and fail every verification after.
    """
    if not valid_version(version):
        raise UsageError(
            version,
            "invalid release version",
            "use [0-9A-Za-z._-], starting with a letter or digit",
        )
    try:
        lock = lock_file(releases)
    except OSError as exc:
        raise ReleaseError(
            str(releases), f"cannot write the releases folder ({exc.strerror})", "check permissions"
        ) from None
    # One release at a time: two at once would both name the same head as previous (a fork).
    with exclusive(lock, f"waiting for another release into {releases} to finish"):
        if continue_from is not None:
            if policy is None:
                raise UsageError(
                    continue_from, "continuing a chain needs a policy", "pass --policy"
                )
            from builder.continuation import bring_in

            bring_in(continue_from, releases, policy)
        return _make_release(catalog, version, releases, target, policy)


def _make_release(
    catalog: Catalog,
    version: str,
    releases: Path,
    target: SigningTarget,
    policy: TrustPolicy | None,
) -> Path:
    final = releases / version
    if final.exists():
        raise ReleaseError(
            str(final), "release already exists; releases are immutable", "choose a new version"
        )
    if policy is not None:
        _verify_existing(releases, policy)
    history = read_history(releases)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = freeze(catalog, version, history, created, source_commit(catalog.root))
    manifest_bytes = manifest.to_bytes()
    with signer_for(target) as session:
        bundle = session.sign(manifest_bytes)
        # Signing times must strictly increase along the chain (`release-time-order`); a
        # release signed within its head's second would never verify: sign again later.
        if history.head is not None:
            head = releases / history.head.version / BUNDLE_NAME
            try:
                head_time = _signed_at(read_regular(head, MAX_BUNDLE_BYTES))
            except (OSError, ValueError):
                raise ReleaseError(
                    str(head), "unreadable bundle", "run `sealbook-verify releases`"
                ) from None
            tries = 1
            while _signed_at(bundle) <= head_time:
                if tries == SIGNING_TRIES:
                    raise ReleaseError(
                        str(head.parent),
                        "cannot sign later than this head release (the log's clock?)",
                        "check the signing instance's clock and release again",
                    )
                time.sleep(1.0)
                bundle = session.sign(manifest_bytes)
                tries += 1
    if policy is not None:
        _verify_new_signature(manifest_bytes, bundle, policy, final)
    _remove_stale_temporaries(releases)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-{os.getpid()}-", dir=releases))
    try:
        for source in catalog.runbooks:
            write_synced(tmp / SOURCES_DIR / f"{source.slug}.md", source.source)
        for path, data in catalog.files:
            write_synced(tmp / SOURCES_DIR / path, data)
        write_synced(tmp / MANIFEST_NAME, manifest_bytes)
        write_synced(tmp / BUNDLE_NAME, bundle)
        fsync_tree(tmp)
        tmp.chmod(0o755)
        try:
            rename_noreplace(tmp, final)
        except FileExistsError:
            raise ReleaseError(
                str(final),
                "release appeared while signing; releases are immutable",
                "choose a new version",
            ) from None
        fsync_dir(releases)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _verify_existing(releases: Path, policy: TrustPolicy) -> None:
    """The chain a new release extends must verify under ``policy`` before anything is signed."""
    from verifier.release import verify_releases

    if not release_folders(releases):
        return
    verdict = verify_releases(releases, policy)
    if not verdict.ok:
        bad = next(r for r in verdict.results if not r.ok)
        raise ReleaseError(
            f"{releases}/{bad.item}",
            f"does not verify under the policy ({bad.reason}: {bad.detail})",
            "nothing was signed; run `sealbook-verify releases` and fix the chain or the policy",
        )


def _verify_new_signature(
    manifest_bytes: bytes, bundle: bytes, policy: TrustPolicy, final: Path
) -> None:
    """Refuse to write a release the policy would reject (its signer, above all)."""
    from verifier.errors import VerificationError
    from verifier.signature import parse_bundle, verify_signature

    try:
        verify_signature(manifest_bytes, parse_bundle(bundle, str(final)), policy, str(final))
    except VerificationError as exc:
        raise ReleaseError(
            str(final),
            f"not written: its signature would not verify under {policy.source} ({exc.reason}: {exc.problem})",
            "sign as a signer the policy allows, or add a rule for this one if you trust it",
        ) from None


def _signed_at(bundle: bytes) -> datetime:
    """The signing time a bundle claims (the verifier checks it; this only orders the chain)."""
    from sigstore.models import Bundle, InvalidBundle

    from verifier.signature import signing_time

    try:
        return signing_time(Bundle.from_json(bundle))
    except InvalidBundle as exc:
        raise ValueError(str(exc)) from None


def _remove_stale_temporaries(releases: Path) -> None:
    """Remove ``.tmp-*`` folders a crashed release left behind (never a real release).

    A folder whose writer is still alive (another release in progress on this host) is
    left alone; its name carries the writer's pid.
    """
    for entry in releases.iterdir():
        if entry.name.startswith(".tmp-") and entry.is_dir() and not _writer_alive(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


def _writer_alive(name: str) -> bool:
    parts = name.rsplit("-", 2)
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True
