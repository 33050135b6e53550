"""Build into a fresh folder, publish by an atomic symlink flip.

Layout, for ``--out site``::

    site -> .site.builds/<build-id>          the symlink users and web servers follow
    .site.builds/<build-id>/                 one complete build (the site root)
    .site.builds/<build-id>.pages.json       its page cache index (not served)

A build writes only inside a new ``<build-id>`` folder. Publishing creates a temporary
symlink to it and renames that over ``site`` (``rename(2)`` replaces atomically), so a
reader sees the old site or the new one, never a mix. A failed build removes its folder and
leaves ``site`` untouched. The previous build is kept (a reader may still be in it); older
ones are removed.

One build at a time per ``site``: a build holds an exclusive ``flock`` on
``.site.builds/.lock`` from choosing its folder to publishing it (`building`); another one
waits. Without it, one build's pruning would delete the folder another is building, or the
one it just published.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from builder.fsutil import LOCK, exclusive, lock_file
from builder.site.cache import index_path, read_plain
from verifier.errors import SealbookError
from verifier.sitelayout import SITE_MANIFEST
from verifier.sitemanifest import SiteManifest


class PublishError(SealbookError):
    """The output path cannot be published to."""


def builds_dir(out: Path) -> Path:
    """The folder holding the builds behind ``out``."""
    return out.parent / f".{out.name}.builds"


def current_build(out: Path) -> Path | None:
    """The build ``out`` points at, if it is a sealbook-published symlink."""
    if not out.is_symlink():
        return None
    target = (out.parent / out.readlink()).resolve()
    return target if target.is_dir() else None


@contextlib.contextmanager
def building(out: Path, stream: TextIO) -> Iterator[None]:
    """Hold the right to build and publish ``out``; wait (saying so) while another build has it."""
    if out.exists() and not out.is_symlink():
        if out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        else:
            raise PublishError(
                str(out),
                "exists and is not a site published by sealbook (a symlink to a build)",
                "remove it or choose another --out",
            )
    base = builds_dir(out)
    try:
        lock = lock_file(base)
    except OSError as exc:
        raise PublishError(
            str(base), f"cannot create the builds folder ({exc.strerror})", "check permissions"
        ) from None
    with exclusive(lock, f"waiting for another build of {out} to finish", stream):
        yield


def refuse_signed(out: Path) -> None:
    """Refuse to publish an unsigned preview over ``out`` unless it is one (or nothing) now.

    A preview replacing the signed catalog would put unsigned runbooks where on-call
    engineers look; fail closed when the current build cannot be told apart.
    """
    current = current_build(out)
    if current is None:
        return
    try:
        raw, _ = read_plain(str(current / SITE_MANIFEST))
        preview = SiteManifest.from_bytes(raw, str(current / SITE_MANIFEST)).preview
    except (OSError, SealbookError):
        preview = False
    if not preview:
        raise PublishError(
            str(out),
            "is a published signed site (or one sealbook cannot read); a preview never replaces it",
            "choose another --out; the default is ./site-preview",
        )


def new_build(out: Path) -> Path:
    """Create and return a fresh, empty build folder for ``out`` (under `building`)."""
    base = builds_dir(out)
    build_id = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)
    folder = base / build_id
    folder.mkdir()
    return folder


def publish(out: Path, build: Path) -> None:
    """Point ``out`` at ``build`` atomically; prune builds older than the previous one."""
    previous = current_build(out)
    link = out.parent / f".{out.name}.tmp-{secrets.token_hex(4)}"
    link.symlink_to(os.path.relpath(build, out.parent))
    try:
        link.replace(out)
    except OSError as exc:
        link.unlink(missing_ok=True)
        raise PublishError(
            str(out), f"cannot publish ({exc.strerror})", "check permissions"
        ) from None
    keep = {build.name, previous.name if previous else ""}
    for entry in builds_dir(out).iterdir():
        name = entry.name.removesuffix(".pages.json")
        if name not in keep and name != LOCK:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def discard(build: Path) -> None:
    """Remove a failed build (the published site is untouched)."""
    shutil.rmtree(build, ignore_errors=True)
    index_path(build).unlink(missing_ok=True)
