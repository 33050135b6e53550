"""Released pages never change: reuse them from the previous build instead of rendering them.

A page's key is the digest of (sealbook version, theme fingerprint, the page's inputs); see
`builder.site.views`. After each build ``<build>.pages.json`` (beside the build folder,
outside the served site) records ``path -> [key, digest]``. The next build hard-links
(or copies) a page from the previous build when its key is unchanged and the file still
has the recorded digest; anything else is rendered afresh. A tampered or corrupted
previous build is therefore never carried forward.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from verifier.digests import canonical_json, digest

SCHEMA = "sealbook.page-cache/v1"


def index_path(build: Path) -> Path:
    """Where the cache index of a build folder lives (beside it, not in the site)."""
    return build.with_name(build.name + ".pages.json")


class PageCache:
    """The previous build's pages by key, and the keys of the build in progress."""

    def __init__(self, previous: Path | None, salt: str) -> None:
        self.previous = previous
        self.salt = salt
        self.entries: dict[str, tuple[str, str]] = {}
        self.keys: dict[str, str] = {}
        self.reused = 0
        if previous is not None:
            self.entries = _load(index_path(previous))

    def key(self, path: str, inputs: dict[str, Any]) -> str:
        """The key of page ``path`` with ``inputs``; remembered for this build's index."""
        value = digest(canonical_json({"salt": self.salt, "path": path, "inputs": inputs}))
        self.keys[path] = value
        return value

    def reusable(self, path: str, key: str) -> bool:
        """True if the previous build has ``path`` with this key and its recorded bytes."""
        entry = self.entries.get(path)
        if self.previous is None or entry is None or entry[0] != key:
            return False
        try:
            return digest((self.previous / path).read_bytes()) == entry[1]
        except OSError:
            return False

    def link(self, path: str, site: Path) -> None:
        """Put the previous build's ``path`` into ``site`` (hard link, else copy)."""
        assert self.previous is not None
        source, target = self.previous / path, site / path
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        self.reused += 1

    def write_index(self, build: Path, digests: dict[str, str]) -> None:
        """Record this build's keyed pages with their final digests."""
        pages = {p: [k, digests[p]] for p, k in sorted(self.keys.items()) if p in digests}
        index_path(build).write_bytes(canonical_json({"schema": SCHEMA, "pages": pages}))


def _load(path: Path) -> dict[str, tuple[str, str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return {}
    pages = data.get("pages")
    if not isinstance(pages, dict):
        return {}
    return {
        p: (str(v[0]), str(v[1])) for p, v in pages.items() if isinstance(v, list) and len(v) == 2
    }
