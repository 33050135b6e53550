"""Released pages never change: reuse them from the previous build instead of rendering them.

A page's key is a digest over the salt (sealbook version, theme fingerprint, CSP), the page's
path and a base that covers everything the page shows: for the pages a release owns, the
release's chain key (`builder.site.build.release_keys`); for latest and alert pages, their
view; for frozen sources, their signed digest. After each build
``<build>.pages.json`` (beside the build folder, outside the served site) records
``path -> [key, digest, stat]`` where ``stat`` is ``[device, inode, size, mtime_ns]`` of the
file as that build left it. The next build hard-links (or copies) a file from the previous
build when its key is unchanged and the file still has the recorded digest; anything else is
rendered afresh. "Still has the digest" is proven by hashing the file, or, when its device,
inode, size and modification time are exactly those recorded after its digest was last
proven, taken from the record (rewriting a file changes its mtime; replacing it changes its
inode). A tampered or corrupted previous build is therefore not carried forward, except a
rewrite of the same size whose mtime was set back on purpose (ctime would tell, but hard links
and pruning change it too): that file keeps its old digest in ``site-manifest.json``, and
``sealbook-verify site`` reports it. Symlinks, FIFOs and devices are never followed or read.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from verifier.digests import digest
from verifier.files import open_regular

SCHEMA = "sealbook.page-cache/v3"

Stat = tuple[int, int, int, int]


def index_path(build: Path) -> Path:
    """Where the cache index of a build folder lives (beside it, not in the site)."""
    return build.with_name(build.name + ".pages.json")


MAX_FILE = 256 << 20
"""No file of a site is larger (the verifier's limit for `site-manifest.json`)."""


def read_plain(path: str) -> tuple[bytes, Stat]:
    """The bytes and stat of the regular file at ``path``; `OSError` for anything else.

    The previous build is input like any other: a symbolic link there is not followed, a
    FIFO not waited on, a device or a file over `MAX_FILE` not read.
    """
    fh, st = open_regular(path, follow_links=False)
    with fh:
        if st.st_size > MAX_FILE:
            raise OSError(errno.EFBIG, "larger than any file of a site", path)
        return fh.read(MAX_FILE), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def key_bytes(value: Any) -> bytes:
    """Deterministic JSON of a key's inputs (sorted keys; only ever compared with itself)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class PageCache:
    """The previous build's files by key, and the keys of the build in progress."""

    def __init__(self, previous: Path | None, salt: str) -> None:
        self.previous = previous
        self.salt = salt
        self.entries: dict[str, tuple[str, str, Stat | None]] = {}
        self.keys: dict[str, str] = {}
        self._by_digest: dict[str, list[tuple[str, str]]] | None = None
        if previous is not None:
            self.entries = _load(index_path(previous))

    def derived(self, path: str, base: str) -> str:
        """The key of ``path`` whose inputs ``base`` (a digest) covers; kept for the index."""
        value = digest(f"{self.salt}|{base}|{path}".encode())
        self.keys[path] = value
        return value

    def reusable(self, path: str, key: str) -> tuple[str, Stat] | None:
        """The previous build's ``path`` if it has this key and its recorded bytes.

        Returns (digest, stat when proven): the file's digest, proven by its unchanged
        stat or by hashing it, and the stat it had then.
        """
        entry = self.entries.get(path)
        if self.previous is None or entry is None or entry[0] != key:
            return None
        source = f"{self.previous}/{path}"  # str, not Path: called for every page
        try:
            if entry[2] is not None:
                st = os.lstat(source)
                if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == entry[2]:
                    return entry[1], entry[2]
            data, proven = read_plain(source)
        except OSError:
            return None
        return (entry[1], proven) if digest(data) == entry[1] else None

    def holding(self, known: str, prefix: str) -> tuple[str, Stat] | None:
        """A path under ``prefix`` of the previous build proven to hold digest ``known``.

        Content-addressed reuse for files keyed by their digest alone (frozen sources: a
        runbook unchanged in a new release has the bytes the previous release published).
        Returns (path, stat when proven).
        """
        if self._by_digest is None:
            self._by_digest = {}
            for path, (key, found, _stat) in self.entries.items():
                if path.startswith(prefix):
                    self._by_digest.setdefault(found, []).append((path, key))
        for path, key in self._by_digest.get(known, []):
            proof = self.reusable(path, key)
            if proof is not None and proof[0] == known:
                return path, proof[1]
        return None

    def write_index(
        self,
        build: Path,
        digests: dict[str, str],
        stats: dict[str, Stat],
        sources: dict[str, Any] | None = None,
    ) -> None:
        """Record this build's keyed files with their final digests and stats.

        ``stats``: the stats known without asking (written or linked files); others are
        taken now. ``sources``: the frozen sources the verifier proved for this build
        (absolute path -> (digest, stat)); the next build's verification need not hash them
        again (`verifier.release.verify_release`).
        """
        pages: dict[str, list[Any]] = {}
        for path, key in sorted(self.keys.items()):
            if path not in digests:
                continue
            known = stats.get(path)
            if known is None:
                try:
                    st = os.stat(f"{build}/{path}")  # noqa: PTH116 - hot path
                    known = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                except OSError:
                    pass
            pages[path] = [key, digests[path], None if known is None else list(known)]
        index: dict[str, Any] = {"schema": SCHEMA, "pages": pages}
        if sources:
            index["sources"] = {p: [d, list(st)] for p, (d, st) in sorted(sources.items())}
        index_path(build).write_bytes(json.dumps(index, separators=(",", ":")).encode("ascii"))


_last_read: tuple[tuple[str | int, ...], dict[str, Any]] | None = None


def _read(path: Path) -> dict[str, Any] | None:
    """The index at ``path`` if it is one; read once per build (verification and cache use it)."""
    global _last_read
    try:
        raw, st = read_plain(str(path))  # beside the build: as hostile as the build itself
        stamp = (str(path), *st)
        if _last_read is not None and _last_read[0] == stamp:
            return _last_read[1]
        data = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    _last_read = (stamp, data)
    return data


def proven_sources(previous: Path | None) -> dict[str, tuple[str, tuple[int, ...]]]:
    """The frozen sources recorded by the build ``previous`` (see `PageCache.write_index`)."""
    data = _read(index_path(previous)) if previous is not None else None
    if data is None:
        return {}
    raw = data.get("sources")
    if not isinstance(raw, dict):
        return {}
    found: dict[str, tuple[str, tuple[int, ...]]] = {}
    for path, value in raw.items():
        if (
            isinstance(value, list)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], list)
            and len(value[1]) == 5
            and all(type(n) is int for n in value[1])
        ):
            found[path] = (value[0], tuple(value[1]))
    return found


def _load(path: Path) -> dict[str, tuple[str, str, Stat | None]]:
    data = _read(path)
    if data is None:
        return {}
    pages = data.get("pages")
    if not isinstance(pages, dict):
        return {}
    entries: dict[str, tuple[str, str, Stat | None]] = {}
    for p, v in pages.items():
        if not (isinstance(v, list) and len(v) == 3):
            continue
        raw = v[2]
        stat: Stat | None = None
        if isinstance(raw, list) and len(raw) == 4 and all(type(n) is int for n in raw):
            stat = (raw[0], raw[1], raw[2], raw[3])
        entries[p] = (str(v[0]), str(v[1]), stat)
    return entries
