"""Where the theme files are, and the fingerprint that keys the page cache.

``site-template/`` ships inside the wheel as ``builder/_site_template``; in a source
checkout it is the repository's ``site-template/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import builder
from verifier.digests import digest
from verifier.sitemanifest import RENDERER_DISTRIBUTIONS, version_of

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


def sealbook_version() -> str:
    """The building sealbook's version."""
    return version_of("sealbook")


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
    for dist in ("sealbook", *RENDERER_DISTRIBUTIONS):
        parts.append(f"{dist}={version_of(dist)}".encode())
    return digest(b"\0".join(parts))
