"""Prove a built site equals the signed releases, by rendering it again and comparing every byte.

The site is a pure function of the verified chain, the policy's site settings and the sealbook
and renderer versions (docs/site.md, "What `sealbook-verify site` proves"). Whatever a page says, hides or does, the proof does
not need to understand it: a served file either is the byte-for-byte reproduction or it fails.

`verify_site` steps, one result per file (the highest-precedence problem wins):
  (1) read ``site-manifest.json`` (unreadable or malformed: `InputError`, exit 3); a preview
      build fails as a whole (``site-unsigned-preview``);
  (2) refuse what cannot be reproduced here (`NotReproducible`, exit 4): another sealbook or
      renderer version built it (the versions to install are named), or other site settings
      than the auditor's policy gives;
  (3) reproduce: render the site from the verified chain and the auditor's policy into a
      private temporary folder (never inside or beside the served site); this step loads the
      builder's renderer, lazily: the one exception to the verifier's import boundary;
  (4) compare the exact file set and every byte: a reproduced file absent from the site
      (``site-file-missing``) or with other bytes (``site-file-modified``); a served file the
      reproduction lacks (``site-file-unexpected``, or ``site-unsigned-preview`` for a preview
      page); a symbolic link, FIFO or device anywhere (``site-file-unexpected``: never
      followed or opened); ``site-manifest.json`` itself is compared too, and names a stale
      head (``site-latest-mismatch``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.errors import TrustError
from verifier.files import read_limited, read_regular
from verifier.policy import TrustPolicy
from verifier.release import VerifiedRelease
from verifier.results import Result
from verifier.sitemanifest import SiteManifest, generator

MAX_SITE_MANIFEST = 256 << 20
MAX_FILE = 64 << 20


class NotReproducible(TrustError):
    """This verifier cannot render the site as it was built (other versions or settings)."""


def verify_site(site: Path, chain: list[VerifiedRelease], policy: TrustPolicy) -> list[Result]:
    """Verify the site at ``site`` against the verified ``chain`` (genesis to head)."""
    # (1)
    sm_path = site / layout.SITE_MANIFEST
    raw = read_limited(sm_path, MAX_SITE_MANIFEST, "site-manifest.json")
    sm = SiteManifest.from_bytes(raw, str(sm_path))
    if sm.preview:
        return [
            Result(
                "site-file",
                layout.SITE_MANIFEST,
                "site-unsigned-preview",
                "built by `sealbook preview` from an unsigned working tree; build with `sealbook build`",
            )
        ]
    # (2)
    _require_reproducible(sm, sm_path)
    settings = _settings(policy)
    if sm.settings != settings:
        raise NotReproducible(
            str(sm_path),
            f"built with other site settings than your policy gives ({_differences(sm.settings, settings)})",
            "verify with the policy the site was built with, or rebuild the site with yours",
        )
    # (3), while a thread lists and hashes the served files (reading and hashing release
    # the GIL: on two cores the hashing costs the proof almost no wall time)
    with ThreadPoolExecutor(max_workers=1) as pool:
        hashed = pool.submit(_hash_served, site)
        with _private_folder() as tmp:
            reproduced = _reproduce(chain, policy, tmp / "site")
            expected_manifest = (tmp / "site" / layout.SITE_MANIFEST).read_bytes()
        served, odd, digests = hashed.result()
    # (4)
    results: list[Result] = []
    for path in sorted((set(reproduced.files) | served | set(odd)) - {layout.SITE_MANIFEST}):
        if path in odd:
            detail = f"{odd[path]}; sealbook writes regular files and folders only"
            results.append(Result("site-file", path, "site-file-unexpected", detail))
        elif path not in reproduced.files:
            results.append(_unexpected(site, path))
        elif path not in served:
            detail = f"the reproduction has it ({reproduced.files[path].role})"
            results.append(Result("site-file", path, "site-file-missing", detail))
        else:
            results.append(_compare(path, digests[path], reproduced.files[path].digest))
    results.append(_compare_manifest(raw, expected_manifest, sm, chain))
    return results


def _require_reproducible(sm: SiteManifest, source: Path) -> None:
    """(2): the site names the sealbook and renderer versions it was built with; they must be ours."""
    ours = generator()
    if sm.generator == ours:
        return
    theirs = sm.generator.get("renderer", {})
    pins = [f"sealbook=={sm.sealbook}"] + [
        f"{dist}=={version}"
        for dist, version in sorted(theirs.items())
        if ours["renderer"].get(dist) != version
    ]
    mine = ", ".join(
        [f"sealbook {ours['sealbook']}"]
        + [f"{d} {v}" for d, v in sorted(ours["renderer"].items()) if theirs.get(d) != v]
    )
    raise NotReproducible(
        str(source),
        f"built by sealbook {sm.sealbook}; this verifier ({mine}) cannot reproduce it",
        f"verify it with: pip install {' '.join(repr(p) if '+' in p else p for p in pins)}",
    )


def _settings(policy: TrustPolicy) -> dict[str, object]:
    from builder.site.inputs import site_context

    return site_context(policy, generator()["sealbook"], preview=False).settings()


def _differences(theirs: dict[str, object], ours: dict[str, object]) -> str:
    keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    return "differ: " + ", ".join(keys)


@contextmanager
def _private_folder() -> Iterator[Path]:
    """A new 0700 folder in the system's temp dir, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="sealbook-verify-site-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _reproduce(chain: list[VerifiedRelease], policy: TrustPolicy, into: Path) -> SiteManifest:
    """(3): the site the chain and the policy give, rendered into ``into``."""
    from builder.site.build import render_site
    from builder.site.inputs import release_input, root_files, site_context

    into.mkdir()
    context = site_context(policy, generator()["sealbook"], preview=False)
    releases = [release_input(rel) for rel in chain]
    return render_site(releases, into, context, root_files(policy))


def _hash_served(site: Path) -> tuple[set[str], dict[str, str], dict[str, str]]:
    """(regular files, everything else, path -> digest or the reason it cannot be read)."""
    served, odd = _files(site)
    digests: dict[str, str] = {}
    for path in served:
        try:
            digests[path] = digest(read_regular(site / path, MAX_FILE))
        except OSError as exc:
            digests[path] = f"cannot read it ({exc.strerror or exc})"
    return served, odd, digests


def _compare(path: str, got: str, want: str) -> Result:
    if got == want:
        return Result("site-file", path, "verified", "")
    if not got.startswith("sha256:"):
        return Result(
            "site-file", path, "site-file-modified", f"{got}; the reproduction has {want}"
        )
    detail = f"served bytes {got} differ from the reproduction's {want}"
    return Result("site-file", path, "site-file-modified", detail)


def _unexpected(site: Path, path: str) -> Result:
    detail = "the reproduction has no such file"
    code = "site-file-unexpected"
    if path.endswith(".html"):
        try:
            if layout.PREVIEW_META.encode() in read_regular(site / path, MAX_FILE):
                code = "site-unsigned-preview"
                detail = "a page built by `sealbook preview` (unsigned); the reproduction has no such file"
        except OSError:
            pass
    return Result("site-file", path, code, detail)


def _compare_manifest(
    raw: bytes, expected: bytes, sm: SiteManifest, chain: list[VerifiedRelease]
) -> Result:
    head = chain[-1] if chain else None
    if head is not None and sm.head != (head.version, head.manifest_digest):
        built_for = "no head" if sm.head is None else f"{sm.head[0]}:{sm.head[1]}"
        detail = f"built for head {built_for}; the chain head is {head.version}:{head.manifest_digest} (rebuild the site)"
        return Result("site-file", layout.SITE_MANIFEST, "site-latest-mismatch", detail)
    if raw != expected:
        detail = f"served bytes {digest(raw)} differ from the reproduction's {digest(expected)}"
        return Result("site-file", layout.SITE_MANIFEST, "site-file-modified", detail)
    return Result("site-file", layout.SITE_MANIFEST, "verified", "")


def _files(site: Path) -> tuple[set[str], dict[str, str]]:
    """(regular files, everything else) under ``site`` as site paths.

    sealbook writes regular files and folders only. A symbolic link (to a file or a folder),
    a FIFO or a device is never followed or opened: the second part names what it is.
    """
    found: set[str] = set()
    odd: dict[str, str] = {}
    folders = [""]
    while folders:
        rel = folders.pop()
        with os.scandir(f"{site}/{rel}" if rel else site) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    odd[path] = "a symbolic link"
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                elif entry.is_file(follow_symlinks=False):
                    found.add(path)
                else:
                    odd[path] = "not a regular file (a FIFO, socket or device)"
    return found, odd
