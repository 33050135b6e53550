"""Write ``site-manifest.json``: every file of a finished build with its role and digest.

The format belongs to the verifier (`verifier.sitemanifest`). Every file sealbook writes or
carries over from the previous build goes through `SiteFiles`, which records its role and
digest once (hashing the bytes it writes; a carried file's digest was proven by the page
cache). What mkdocs wrote is classified after rendering (`SiteFiles.adopt`): a static file of
``site-template/`` is an ``asset``, one of mkdocs-material a ``theme-asset``. A file nobody
can account for stops the build (it would fail verification anyway).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from builder.site.assets import material_dir, static_files, template_dir
from builder.site.cache import read_plain
from verifier.digests import digest
from verifier.errors import SealbookError
from verifier.sitelayout import SITE_MANIFEST
from verifier.sitemanifest import SiteFile, SiteManifest, generator


class SiteManifestError(SealbookError):
    """The build produced a file sealbook cannot account for."""


def site_files(site: Path) -> list[str]:
    """Every file under ``site`` as a site path, sorted."""
    root = str(site)
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        rel = dirpath[len(root) + 1 :].replace(os.sep, "/")
        found.extend(f"{rel}/{name}" if rel else name for name in files)
    return sorted(found)


Stat = tuple[int, int, int, int]
"""(device, inode, size, mtime_ns) of a file, as `builder.site.cache` records it."""


class SiteFiles:
    """The files of a build in progress, each with its role and digest (and stat, if known).

    Files carried over from the previous build are hard-linked by a child process
    (`start_links`) while this one renders and writes the rest: on a rebuild that is most
    of the site's files, and most of its system time.
    """

    def __init__(self, site: Path) -> None:
        self.site = site
        self._root = str(site)
        self.files: dict[str, SiteFile] = {}
        self.stats: dict[str, Stat] = {}
        """Site path -> stat of what was written or linked (the page cache records it)."""
        self._dirs: set[str] = set()
        self._pending: list[tuple[str, str, str, Stat | None]] = []
        self._deferred: list[tuple[str, str, Callable[[], bytes]]] = []
        self._child: tuple[int, int] | None = None
        self._roles: dict[str, str] = {}

    def _parent(self, path: str) -> None:
        folder = posixpath.dirname(path)
        if folder not in self._dirs:
            os.makedirs(f"{self._root}/{folder}", exist_ok=True)  # noqa: PTH103 - hot path
            self._dirs.add(folder)

    def write(self, path: str, data: bytes, role: str) -> None:
        """Write ``data`` at site path ``path``; its digest is that of ``data``."""
        self._parent(path)
        with open(f"{self._root}/{path}", "wb") as fh:  # noqa: PTH123 - hot path
            fh.write(data)
            fh.flush()
            st = os.fstat(fh.fileno())
        self.files[path] = SiteFile(role, digest(data))
        self.stats[path] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def link(self, source: str, path: str, known: str, role: str, proven: Stat | None) -> None:
        """Carry ``source`` (a previous build's file, proven to hold digest ``known``) over.

        ``proven``: its stat when that was proven. The link is made by `start_links`; it
        must then have exactly that stat (the very inode that was proven), else the file
        is copied and hashed again.
        """
        self._pending.append((source, path, known, proven))
        self.files[path] = SiteFile(role, known)
        if proven is not None:
            self.stats[path] = proven

    def defer(self, path: str, role: str, produce: Callable[[], bytes]) -> None:
        """Write what ``produce`` returns at ``path``, in the child of `start_links`."""
        self._deferred.append((path, role, produce))

    def start_links(self) -> None:
        """Make the pending links and deferred writes in a child process.

        `finish_links` waits for it and records what it wrote (digests and stats).
        """
        pending, self._pending = self._pending, []
        deferred, self._deferred = self._deferred, []
        if not pending and not deferred:
            return
        if not hasattr(os, "fork"):  # pragma: no cover - POSIX only in practice
            problem = _link_all(self._root, pending, self.stats)
            if problem:
                raise SiteManifestError(self._root, problem, "run the build again")
            for path, role, produce in deferred:
                self.write(path, produce(), role)
            return
        sys.stdout.flush()  # the child must not write what this process buffered
        sys.stderr.flush()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage cannot follow it)
            code = 2
            try:
                os.close(read_end)
                stats: dict[str, Stat] = {}
                problem = _link_all(self._root, pending, stats)
                copied = {p: st for p, st in stats.items() if st != self.stats.get(p)}
                written = {}
                for path, _role, produce in [] if problem else deferred:
                    self.write(path, produce(), "")
                    written[path] = [self.files[path].digest, self.stats[path]]
                report = {"problem": problem, "copied": copied, "written": written}
                view = memoryview(json.dumps(report).encode())
                while view:
                    view = view[os.write(write_end, view) :]
                code = 0
            except BaseException as exc:  # noqa: BLE001 - the parent reports it
                with contextlib.suppress(OSError):
                    os.write(write_end, json.dumps({"problem": f"{exc!r}"[:300]}).encode())
                code = 3
            finally:
                os._exit(code)
        os.close(write_end)
        self._child = (pid, read_end)
        self._roles = {path: role for path, role, _ in deferred}

    def finish_links(self) -> None:
        """Wait for the linking child; raise if it could not carry every file over."""
        if self._child is None:
            return
        pid, read_end = self._child
        self._child = None
        chunks = []
        with os.fdopen(read_end, "rb") as pipe:
            while chunk := pipe.read(1 << 20):
                chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        try:
            report = json.loads(b"".join(chunks))
        except ValueError:
            report = {}
        if report.get("problem"):
            raise SiteManifestError(self._root, report["problem"], "run the build again")
        if os.waitstatus_to_exitcode(status) != 0 or "written" not in report:
            raise SiteManifestError(
                self._root, "the process carrying files over failed", "run the build again"
            )
        for path, st in report["copied"].items():
            self.stats[path] = (st[0], st[1], st[2], st[3])
        for path, (found, st) in report["written"].items():
            self.files[path] = SiteFile(self._roles[path], found)
            self.stats[path] = (st[0], st[1], st[2], st[3])

    def abort_links(self) -> None:
        """Stop the linking child (the build failed)."""
        if self._child is not None:
            pid, read_end = self._child
            self._child = None
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
            os.close(read_end)

    def adopt(self, roles: dict[str, str], later: set[str]) -> None:
        """Hash and classify what is already in the site (mkdocs' output).

        ``roles`` names the pages rendered; ``later`` the files sealbook writes over
        afterwards (the search index); a static file of ``site-template/`` is an ``asset``,
        one of mkdocs-material a ``theme-asset``; anything else stops the build. Files
        the child of `start_links` links or writes meanwhile are skipped.
        """
        ours = set(static_files(template_dir()))
        theirs = set(static_files(material_dir()))
        for path in site_files(self.site):
            if path == SITE_MANIFEST or path in self.files or path in self._roles or path in later:
                continue
            role = roles.get(path)
            if role is None:
                role = "asset" if path in ours else "theme-asset" if path in theirs else ""
            if not role:
                raise SiteManifestError(
                    str(self.site / path),
                    "the build produced a file sealbook cannot account for",
                    "report it; the site was not published",
                )
            self.files[path] = SiteFile(role, digest((self.site / path).read_bytes()))
            self._dirs.add(posixpath.dirname(path))

    def write_manifest(
        self, *, preview: bool, head: tuple[str, str] | None, settings: dict[str, Any]
    ) -> SiteManifest:
        """Write ``site-manifest.json`` listing every recorded file; return it."""
        manifest = SiteManifest(
            generator=generator(),
            settings=settings,
            preview=preview,
            head=head,
            files=dict(self.files),
        )
        (self.site / SITE_MANIFEST).write_bytes(_manifest_bytes(manifest))
        return manifest


def _link_all(
    root: str, pending: list[tuple[str, str, str, Stat | None]], stats: dict[str, Stat]
) -> str:
    """Hard-link every pending file; return a problem, or "" when all were carried over.

    A link must have the proven stat (the same inode, size and mtime); where linking is
    impossible or the stat differs, the file is copied and must hash to its known digest.
    ``stats`` receives the stat of every file made.
    """
    made: set[str] = set()
    for source, path, known, proven in pending:
        folder = posixpath.dirname(path)
        if folder not in made:
            os.makedirs(f"{root}/{folder}", exist_ok=True)  # noqa: PTH103 - hot path
            made.add(folder)
        target = f"{root}/{path}"
        try:
            os.link(source, target)
            st = os.lstat(target)
            now = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if proven is not None and now == proven:
                stats[path] = now
                continue
            os.unlink(target)  # noqa: PTH108 - hot path
        except OSError:
            pass
        try:
            data, _ = read_plain(source)
            if digest(data) != known:
                return f"{source} changed since it was proven; not carried over"
            with open(target, "xb") as fh:  # noqa: PTH123 - hot path
                fh.write(data)
                fh.flush()
                st = os.fstat(fh.fileno())
        except OSError as exc:
            return f"cannot carry {source} over ({exc.strerror})"
        stats[path] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    return ""


def _manifest_bytes(manifest: SiteManifest) -> bytes:
    """``manifest.to_bytes()`` (RFC 8785), fast when that equals sorted compact JSON.

    The manifest holds only objects, strings, booleans and null. When sorted compact JSON of
    it is ASCII without a backslash, no string needed escaping and code-point order is UTF-16
    order, so it is byte for byte the RFC 8785 form; otherwise the exact encoder runs.
    """
    fast = json.dumps(manifest.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if fast.isascii() and "\\" not in fast:
        return fast.encode("ascii")
    return manifest.to_bytes()
