"""Write ``site-manifest.json``: every file of a finished build with its role and digest.

The format belongs to the verifier (`verifier.sitemanifest`). Every file sealbook writes or
carries over from the previous build goes through `SiteFiles`, which records its role and
digest once (hashing the bytes it writes; a carried file's digest was proven by the page
cache). What mkdocs wrote is classified after rendering (`SiteFiles.adopt`): a static file of
``site-template/`` is an ``asset``, one of mkdocs-material a ``theme-asset``. A file nobody
can account for stops the build (it would fail verification anyway).
"""

from __future__ import annotations

import json
import os
import posixpath
import shutil
from pathlib import Path

from builder.site.assets import (
    asset_sets,
    material_dir,
    sealbook_version,
    static_files,
    template_dir,
)
from verifier.digests import digest
from verifier.errors import SealbookError
from verifier.sitelayout import SITE_MANIFEST
from verifier.sitemanifest import SiteFile, SiteManifest


class SiteManifestError(SealbookError):
    """The build produced a file sealbook cannot account for."""


def site_files(site: Path) -> list[str]:
    """Every file under ``site`` as a site path, sorted."""
    found = []
    for dirpath, dirs, files in os.walk(site):
        dirs.sort()
        for name in files:
            found.append((Path(dirpath) / name).relative_to(site).as_posix())
    return sorted(found)


class SiteFiles:
    """The files of a build in progress, each with its role and digest."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self._root = str(site)
        self.files: dict[str, SiteFile] = {}
        self._dirs: set[str] = set()

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
        self.files[path] = SiteFile(role, digest(data))

    def link(self, source: Path | str, path: str, known: str, role: str) -> None:
        """Hard-link (else copy) ``source`` to ``path``; ``known`` is its proven digest."""
        self._parent(path)
        target = f"{self._root}/{path}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        self.files[path] = SiteFile(role, known)

    def adopt(self, roles: dict[str, str], later: set[str]) -> None:
        """Hash and classify what is already in the site (mkdocs' output).

        ``roles`` names the pages rendered; ``later`` the files sealbook writes over
        afterwards (the search index); a static file of ``site-template/`` is an ``asset``,
        one of mkdocs-material a ``theme-asset``; anything else stops the build.
        """
        ours = set(static_files(template_dir()))
        theirs = set(static_files(material_dir()))
        for path in site_files(self.site):
            if path == SITE_MANIFEST or path in self.files or path in later:
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

    def write_manifest(self, *, preview: bool, head: tuple[str, str] | None) -> SiteManifest:
        """Write ``site-manifest.json`` listing every recorded file; return it."""
        manifest = SiteManifest(
            sealbook=sealbook_version(),
            theme=asset_sets(),
            preview=preview,
            head=head,
            files=dict(self.files),
        )
        (self.site / SITE_MANIFEST).write_bytes(_manifest_bytes(manifest))
        return manifest


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
