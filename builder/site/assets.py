"""Where the theme files are, their fingerprint, and the list of expected asset digests.

``site-template/`` ships inside the wheel as ``builder/_site_template``; in a source
checkout it is the repository's ``site-template/``.

``verifier/site_assets.json`` lists the digest of every static file a site can carry from
sealbook's template (set ``sealbook-<version>``) and from mkdocs-material (set
``material-<version>``), so `sealbook-verify site` can check theme assets without
importing mkdocs. Regenerate it after changing ``site-template/assets`` or upgrading
material::

    .venv/bin/python -m builder.site.assets

A test fails when the file is stale.
"""

from __future__ import annotations

import json
import os
import sys
from importlib import metadata
from pathlib import Path

import builder
from verifier.digests import canonical_json, digest
from verifier.siteassets import ASSETS_FILE, SCHEMA

# mkdocs copies every file of a theme folder except these (mkdocs.theme / files.py rules).
_NOT_STATIC_SUFFIXES = (".html", ".py", ".pyc", ".yml")


def template_dir() -> Path:
    """sealbook's material ``custom_dir``."""
    packaged = Path(builder.__file__).parent / "_site_template"
    if packaged.is_dir():
        return packaged
    return Path(builder.__file__).resolve().parent.parent / "site-template"


def material_dir() -> Path:
    """mkdocs-material's theme folder."""
    import material

    return Path(material.__file__).parent / "templates"


def version_of(dist: str) -> str:
    """Installed version of a distribution (``0+unknown`` from a bare checkout)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def sealbook_version() -> str:
    """The building sealbook's version."""
    return version_of("sealbook")


def asset_sets() -> tuple[str, str]:
    """Names of the asset sets a build uses: (sealbook, material)."""
    return f"sealbook-{sealbook_version()}", f"material-{version_of('mkdocs-material')}"


def static_files(folder: Path) -> dict[str, Path]:
    """Site path -> file for every static (copied, not rendered) file of a theme folder."""
    found: dict[str, Path] = {}
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(_NOT_STATIC_SUFFIXES):
                continue
            path = Path(dirpath) / name
            found[path.relative_to(folder).as_posix()] = path
    return found


def theme_fingerprint() -> str:
    """Digest over every template and asset file plus the renderer versions (cache keys)."""
    parts: list[bytes] = []
    # The rendering code itself too: a changed renderer must not reuse pages of the old one.
    # Material's own files are fixed per version (its version is below): not hashed, they are
    # thousands of icons.
    for folder in (template_dir(), Path(__file__).parent):
        for dirpath, dirs, files in os.walk(folder):
            dirs.sort()
            for name in sorted(files):
                path = Path(dirpath) / name
                if "__pycache__" in path.parts or path.suffix == ".pyc":
                    continue
                parts.append(path.relative_to(folder).as_posix().encode())
                parts.append(digest(path.read_bytes()).encode())
    for dist in ("sealbook", "mkdocs", "mkdocs-material", "markdown", "jinja2", "pygments"):
        parts.append(f"{dist}={version_of(dist)}".encode())
    return digest(b"\0".join(parts))


def expected_assets() -> dict[str, dict[str, str]]:
    """The asset sets of this installation: set name -> {site path: digest}."""
    sealbook_set, material_set = asset_sets()
    return {
        sealbook_set: {p: digest(f.read_bytes()) for p, f in static_files(template_dir()).items()},
        material_set: {p: digest(f.read_bytes()) for p, f in static_files(material_dir()).items()},
    }


def regenerate(target: Path) -> None:
    """Merge this installation's asset sets into ``target`` (older sets are kept)."""
    sets: dict[str, dict[str, str]] = {}
    if target.is_file():
        sets = json.loads(target.read_text(encoding="utf-8")).get("sets", {})
    sets.update(expected_assets())
    target.write_bytes(canonical_json({"schema": SCHEMA, "sets": sets}) + b"\n")


if __name__ == "__main__":
    regenerate(ASSETS_FILE)
    sys.stdout.write(f"wrote {ASSETS_FILE}\n")
