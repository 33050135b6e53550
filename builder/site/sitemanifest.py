"""Write ``site-manifest.json``: every file of a finished build with its role and digest.

The format belongs to the verifier (`verifier.sitemanifest`). Roles of the files sealbook
wrote itself are known when they are written; what mkdocs copied is classified here: a
static file of ``site-template/`` is an ``asset``, one of mkdocs-material a ``theme-asset``.
A file nobody can account for stops the build (it would fail verification anyway).
"""

from __future__ import annotations

import os
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


def write_site_manifest(
    site: Path, roles: dict[str, str], *, preview: bool, head: tuple[str, str] | None
) -> SiteManifest:
    """Hash every file of ``site``, assign roles, write ``site-manifest.json``; return it."""
    ours = set(static_files(template_dir()))
    theirs = set(static_files(material_dir()))
    files: dict[str, SiteFile] = {}
    for path in site_files(site):
        if path == SITE_MANIFEST:
            continue
        role = roles.get(path)
        if role is None:
            role = "asset" if path in ours else "theme-asset" if path in theirs else ""
        if not role:
            raise SiteManifestError(
                str(site / path),
                "the build produced a file sealbook cannot account for",
                "report it; the site was not published",
            )
        files[path] = SiteFile(role, digest((site / path).read_bytes()))
    manifest = SiteManifest(
        sealbook=sealbook_version(),
        theme=asset_sets(),
        preview=preview,
        head=head,
        files=files,
    )
    (site / SITE_MANIFEST).write_bytes(manifest.to_bytes())
    return manifest
