"""Verify signed releases and the chain they form, offline.

`verify_release` steps ((2), (3) and (5) are `verifier.pinned.verify_signed_manifest`):
  (1) read ``manifest.json`` and its bundle (unreadable: `InputError`);
  (2) the digest the bundle signed equals the manifest's; the bundle verifies over the
      manifest's exact bytes under the policy (signature, chain, log proof, signer);
  (3) parse the manifest; its version must equal the folder name;
  (4) every frozen source exists and matches its digest; no unexpected files;
  (5) every snippet's signed text matches its digest.

`verify_chain` rules over verified releases: exactly one genesis, every ``previous``
names an existing release by version *and* manifest digest, no two releases name
the same predecessor, every release is reachable from the genesis, signing times
strictly increase along the chain, and the head equals ``--expect-latest`` if given.
"""

from __future__ import annotations

import itertools
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from verifier.digests import digest
from verifier.errors import InputError, UsageError, VerificationError
from verifier.files import read_limited
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, valid_version
from verifier.pinned import SignedManifest, check_signed_manifest, verify_signed_manifest
from verifier.policy import TrustPolicy
from verifier.results import Result
from verifier.signature import MAX_BUNDLE_BYTES, SignatureFacts

MAX_MANIFEST_BYTES = 64 << 20


class SignatureVerdicts(Protocol):
    """Positive verdicts kept by a caller over exact bytes (`sealbook-verify` keeps none).

    ``get`` returns the signature facts of an earlier verdict over exactly these manifest
    and bundle bytes under the policy the verdicts were made for, or None. A verdict covers
    steps (2), (3) and (5), as checked by the same checking code; the frozen sources (4)
    are checked every time.
    """

    def get(self, manifest: bytes, bundle: bytes) -> SignatureFacts | None: ...

    def put(self, manifest: bytes, bundle: bytes, facts: SignatureFacts) -> None: ...


@dataclass(frozen=True)
class VerifiedRelease(SignedManifest):
    """A release folder whose signature, signer, manifest and sources all verified."""

    path: Path
    bundle_bytes: bytes
    proven: dict[str, ProvenFile] = field(default_factory=dict, compare=False, repr=False)
    """Frozen source path -> (digest, stat) as verified now (for `KnownFiles` of a later run)."""


@dataclass(frozen=True)
class Anchor:
    """``VERSION:DIGEST`` given by an auditor, e.g. ``--expect-latest 2026.11.1:sha256:ab..``."""

    version: str
    digest: str

    @classmethod
    def parse(cls, value: str, option: str = "--expect-latest") -> Anchor:
        version, _, rest = value.partition(":")
        if not valid_version(version) or not rest.startswith("sha256:") or len(rest) != 71:
            raise UsageError(
                option,
                f"expected VERSION:sha256:<64 hex>, got {value!r}",
                "copy it from `sealbook-verify releases`",
            )
        return cls(version, rest)


ProvenFile = tuple[str, tuple[int, ...]]
"""A file's digest and its (device, inode, size, mtime_ns, ctime_ns) when it was proven."""

KnownFiles = dict[str, ProvenFile]
"""Absolute path -> `ProvenFile` from an earlier verification (e.g. a build's cache)."""


def file_stat(path: str) -> tuple[int, int, int, int, int] | None:
    """(device, inode, size, mtime_ns, ctime_ns) of the regular file at ``path``, else None."""
    try:
        st = os.stat(path)  # noqa: PTH116 - hot path
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def verify_release(
    folder: Path,
    policy: TrustPolicy,
    known: KnownFiles | None = None,
    verdicts: SignatureVerdicts | None = None,
) -> VerifiedRelease:
    """Verify one release folder; raise `InputError` or `VerificationError` with a reason code.

    ``known``: frozen sources proven earlier. A source whose recorded digest is its signed
    digest and whose device, inode, size, mtime and ctime are exactly those recorded is not
    hashed again (rewriting a file changes its mtime and ctime, replacing it its inode; ctime
    cannot be set back). ``verdicts``: earlier verdicts over the same bytes (see
    `SignatureVerdicts`); without one, the signature and the manifest are verified in full.
    """
    subject = str(folder)
    # (1) regular files in real folders only: a link, even to identical bytes, is refused
    files = _release_files(folder)
    manifest_bytes = read_limited(folder / MANIFEST_NAME, MAX_MANIFEST_BYTES, "manifest.json")
    bundle_bytes = read_limited(folder / BUNDLE_NAME, MAX_BUNDLE_BYTES, "the Sigstore bundle")
    # (2), (3), (5): everything that needs no frozen source.
    facts = verdicts.get(manifest_bytes, bundle_bytes) if verdicts is not None else None
    if facts is not None:
        signed = check_signed_manifest(
            manifest_bytes, bundle_bytes, facts, subject, folder.name, checked=True
        )
    else:
        signed = verify_signed_manifest(manifest_bytes, bundle_bytes, policy, subject, folder.name)
        if verdicts is not None:
            verdicts.put(manifest_bytes, bundle_bytes, signed.signature)
    manifest = signed.manifest
    # (4)
    expected = {rb.path for rb in manifest.runbooks} | {f.path for f in manifest.files}
    for linked in manifest.files:
        _check_linked(folder, linked.path, linked.digest)
    proven: dict[str, ProvenFile] = {}
    base = str(folder.absolute())
    for rb in manifest.runbooks:
        name = f"{base}/{rb.path}"
        before = file_stat(name)
        entry = known.get(name) if known else None
        if (
            before is not None
            and entry is not None
            and entry[0] == rb.digest
            and entry[1] == before
            and before[2] <= MAX_MANIFEST_BYTES
        ):
            proven[name] = entry
            continue
        source = folder / rb.path
        try:
            data = read_limited(source, MAX_MANIFEST_BYTES, "frozen source")
        except InputError as exc:
            raise VerificationError(
                "source-missing", str(source), exc.problem, "restore the release from its origin"
            ) from None
        if digest(data) != rb.digest:
            raise VerificationError(
                "source-digest-mismatch",
                str(source),
                f"bytes hash to {digest(data)}, the signed digest is {rb.digest}",
                "restore the release from its origin",
            )
        after = file_stat(name)
        if after is not None and after == before:
            proven[name] = (rb.digest, after)
    for extra in files:
        if extra not in expected:
            raise VerificationError(
                "source-unexpected",
                str(folder / extra),
                "file is not named by the signed manifest",
                "remove it; releases are immutable",
            )
    return VerifiedRelease(**vars(signed), path=folder, bundle_bytes=bundle_bytes, proven=proven)


def _check_linked(folder: Path, path: str, want: str) -> None:
    """A linked file (image, script) frozen beside the sources: present, with its digest."""
    source = folder / path
    try:
        data = read_limited(source, MAX_MANIFEST_BYTES, "linked file")
    except InputError as exc:
        raise VerificationError(
            "source-missing", str(source), exc.problem, "restore the release from its origin"
        ) from None
    if digest(data) != want:
        raise VerificationError(
            "source-digest-mismatch",
            str(source),
            f"bytes differ from the signed digest {want}",
            "restore the release from its origin",
        )


def _release_files(folder: Path) -> list[str]:
    """Every file of the release folder except its manifest and bundle, as manifest-relative paths.

    Raises ``release-file-not-regular`` for the first symbolic link, FIFO, socket or device
    anywhere in the release (the folder itself included): a link is never followed, even to
    identical bytes, because what it leads to is not part of the release and can change.
    """
    found: list[str] = []
    pending = [""]
    if folder.is_symlink():
        raise _not_regular(folder, ".", "a symbolic link")
    while pending:
        rel = pending.pop()
        try:
            entries = list(os.scandir(f"{folder}/{rel}" if rel else folder))
        except OSError as exc:
            if not rel:  # the release itself: the input is not there (exit 3)
                problem = (
                    "release folder is missing"
                    if isinstance(exc, FileNotFoundError)
                    else f"cannot read the release folder ({exc.strerror})"
                )
                raise InputError(str(folder), problem, "check the path") from None
            raise VerificationError(
                "source-missing",
                str(folder / rel),
                f"cannot read the folder ({exc.strerror})",
                "restore the release from its origin",
            ) from None
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                raise _not_regular(folder, path, "a symbolic link")
            if entry.is_dir(follow_symlinks=False):
                pending.append(path)
            elif not entry.is_file(follow_symlinks=False):
                raise _not_regular(folder, path, "not a regular file (a FIFO, socket or device)")
            elif path not in (MANIFEST_NAME, BUNDLE_NAME):
                found.append(path)
    return sorted(found)


def _not_regular(folder: Path, path: str, what: str) -> VerificationError:
    return VerificationError(
        "release-file-not-regular",
        str(folder / path),
        f"{path} is {what}; a release holds regular files and folders only",
        "restore the release from its origin",
    )


def release_folders(releases: Path) -> list[Path]:
    """Every release folder under ``releases`` (hidden and temporary folders skipped)."""
    try:
        entries = sorted(releases.iterdir())
    except FileNotFoundError:
        raise InputError(
            str(releases), "releases folder does not exist", "pass --releases DIR"
        ) from None
    except NotADirectoryError:
        raise InputError(
            str(releases), "is not a folder", "pass the folder that holds <version>/ folders"
        ) from None
    except OSError as exc:
        raise InputError(
            str(releases), f"cannot read the folder ({exc.strerror})", "check permissions"
        ) from None
    return [p for p in entries if p.is_dir() and not p.name.startswith(".")]


@dataclass
class ChainVerdict:
    """The outcome of verifying every release and the chain."""

    results: list[Result]
    chain: list[VerifiedRelease]
    """Verified releases from genesis to head (empty if the chain is broken)."""

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def head(self) -> VerifiedRelease | None:
        return self.chain[-1] if self.chain else None


def verify_releases(
    releases: Path,
    policy: TrustPolicy,
    expect_latest: Anchor | None = None,
    known: KnownFiles | None = None,
    verdicts: SignatureVerdicts | None = None,
) -> ChainVerdict:
    """Verify every release under ``releases`` and the chain; one result per release.

    ``known``, ``verdicts``: frozen sources proven and signatures verified earlier (see
    `verify_release`).
    """
    verified: dict[str, VerifiedRelease] = {}
    failures: dict[str, Result] = {}
    folders = release_folders(releases)
    if not folders:
        raise InputError(str(releases), "holds no releases", "run `sealbook release` first")
    for folder in folders:
        try:
            verified[folder.name] = verify_release(folder, policy, known, verdicts)
        except VerificationError as exc:
            failures[folder.name] = Result("release", folder.name, exc.reason, exc.detail)
        except InputError as exc:
            reason = "bundle-malformed" if "bundle" in exc.problem else "manifest-malformed"
            if "missing" in exc.problem or "cannot read" in exc.problem:
                reason = "input-unreadable"
            failures[folder.name] = Result("release", folder.name, reason, exc.diagnostics())
    chain_problems, chain = _chain(verified, set(failures), expect_latest)
    results = []
    for folder in folders:
        name = folder.name
        if name in failures:
            results.append(failures[name])
            continue
        rel = verified[name]
        problem = chain_problems.get(name)
        if problem:
            results.append(
                Result("release", name, problem[0], problem[1], dev=rel.dev, facts=rel.facts())
            )
        else:
            results.append(Result("release", name, "verified", "", dev=rel.dev, facts=rel.facts()))
    for name, (reason, detail) in sorted(chain_problems.items()):
        if name not in verified:  # chain-level findings not tied to one folder
            results.append(Result("chain", name, reason, detail))
    ok = all(r.ok for r in results)
    return ChainVerdict(results, chain if ok else [])


def _chain(
    verified: dict[str, VerifiedRelease], failed: set[str], expect: Anchor | None
) -> tuple[dict[str, tuple[str, str]], list[VerifiedRelease]]:
    """Apply the chain rules; return problems by release name, and the ordered chain."""
    problems: dict[str, tuple[str, str]] = {}
    children: dict[str, list[str]] = {}
    genesis = [v for v, r in verified.items() if r.manifest.previous is None]
    for version, rel in sorted(verified.items()):
        prev = rel.manifest.previous
        if prev is None:
            continue
        parent = verified.get(prev.version)
        if parent is None:
            why = "did not verify" if prev.version in failed else "is missing"
            problems[version] = (
                "release-chain-broken",
                f"its previous release {prev.version} {why}",
            )
        elif parent.manifest_digest != prev.manifest_digest:
            problems[version] = (
                "release-chain-broken",
                f"previous release {prev.version} has manifest digest {parent.manifest_digest}, "
                f"but this release was signed over {prev.manifest_digest} (replaced?)",
            )
        else:
            children.setdefault(prev.version, []).append(version)
    for parent_version, kids in children.items():
        if len(kids) > 1:
            for kid in kids:
                problems[kid] = (
                    "release-chain-fork",
                    f"{sorted(kids)} all name {parent_version} as previous",
                )
    if len(genesis) > 1:
        for g in genesis:
            problems.setdefault(
                g,
                (
                    "release-chain-genesis",
                    f"{len(genesis)} releases have no predecessor: {sorted(genesis)}",
                ),
            )
    elif not genesis and verified:
        problems["(genesis)"] = ("release-chain-genesis", "no release without a predecessor")
    # Walk from the genesis; whatever is not reached is an orphan.
    chain: list[VerifiedRelease] = []
    if len(genesis) == 1:
        current: str | None = genesis[0]
        while current is not None:
            chain.append(verified[current])
            kids = children.get(current, [])
            current = kids[0] if len(kids) == 1 else None
    reached = {r.version for r in chain}
    for version in verified:
        if version not in reached and version not in problems:
            problems[version] = ("release-chain-orphan", "not reachable from the genesis release")
    for parent, child in itertools.pairwise(chain):
        if child.signature.signed_at <= parent.signature.signed_at:
            problems.setdefault(
                child.version,
                (
                    "release-time-order",
                    f"signed at {child.signature.signed_at:%Y-%m-%dT%H:%M:%SZ}, not after {parent.version}",
                ),
            )
    if expect is not None:
        head = chain[-1] if chain else None
        if head is None or head.version != expect.version or head.manifest_digest != expect.digest:
            got = f"{head.version}:{head.manifest_digest}" if head else "no head"
            problems["(head)"] = (
                "release-not-latest",
                f"expected head {expect.version}:{expect.digest}, found {got}",
            )
    return problems, chain
