"""``site-manifest.json`` (``sealbook.site/v1``): every file of a built site, its role and digest.

```
{
  "schema": "sealbook.site/v1",
  "generator": {"sealbook": "0.1.0", "theme": ["sealbook-0.1.0", "material-9.8.2"]},
  "preview": false,                       # true: built by `sealbook preview`, never valid
  "head": {"version": "...", "manifest_digest": "sha256:..."} | null,
  "files": {"index.html": {"role": "page", "digest": "sha256:..."}, ...}
}
```
Canonical JSON (RFC 8785). The manifest does not list itself. Roles are below;
`sealbook-verify site` requires exactly this file set and checks each file by role.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from verifier.digests import canonical_json, is_digest
from verifier.errors import InputError

SCHEMA = "sealbook.site/v1"

ROLES: dict[str, str] = {
    "page": "a page rendered through the theme (catalog, revision, diff, release, audit, 404)",
    "alias": "a small page without the theme (release alias, latest pointer, alert page)",
    "asset": "a static file sealbook ships in site-template/ (CSS, JS, the iframe-worker shim)",
    "theme-asset": "a static file of mkdocs-material (JS, CSS, fonts-free icons, lunr)",
    "version-data": "assets/versions.js, the data of every page's version switcher",
    "search-index": "search/search_index.json and .js, built from signed data only",
    "release-manifest": "releases/<version>/manifest.json, the signed bytes",
    "release-bundle": "releases/<version>/manifest.json.sigstore.json",
    "release-source": "releases/<version>/runbooks/<slug>.md, a frozen source",
    "trusted-root": "trust/<hex>.json, a trusted root of the building policy",
}


@dataclass(frozen=True)
class SiteFile:
    """One file of the site."""

    role: str
    digest: str


@dataclass(frozen=True)
class SiteManifest:
    """The parsed ``site-manifest.json``."""

    sealbook: str
    theme: tuple[str, ...]
    """Asset sets (``sealbook-<version>``, ``material-<version>``) the assets come from."""
    preview: bool
    head: tuple[str, str] | None
    """(version, manifest digest) of the chain head the site was built from."""
    files: dict[str, SiteFile] = field(default_factory=dict)
    schema: str = SCHEMA

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "generator": {"sealbook": self.sealbook, "theme": list(self.theme)},
            "preview": self.preview,
            "head": None
            if self.head is None
            else {"version": self.head[0], "manifest_digest": self.head[1]},
            "files": {
                path: {"role": f.role, "digest": f.digest} for path, f in sorted(self.files.items())
            },
        }

    def to_bytes(self) -> bytes:
        """Canonical JSON bytes, as written."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes, source: str) -> SiteManifest:
        """Parse and validate; raise `InputError` naming ``source``."""

        def fail(problem: str) -> InputError:
            return InputError(source, problem, "rebuild the site with `sealbook build`")

        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise fail(f"not valid JSON ({exc})") from None
        except RecursionError:
            raise fail("not valid JSON (nested too deeply)") from None
        if not isinstance(data, dict) or set(data) != {
            "schema",
            "generator",
            "preview",
            "head",
            "files",
        }:
            raise fail("expected exactly schema, generator, preview, head, files")
        if data["schema"] != SCHEMA:
            raise fail(f"unknown schema {data['schema']!r} (expected {SCHEMA!r})")
        gen = data["generator"]
        if (
            not isinstance(gen, dict)
            or set(gen) != {"sealbook", "theme"}
            or not isinstance(gen["sealbook"], str)
            or not isinstance(gen["theme"], list)
            or not all(isinstance(t, str) for t in gen["theme"])
        ):
            raise fail("generator must be {sealbook: str, theme: [str]}")
        if not isinstance(data["preview"], bool):
            raise fail("preview must be true or false")
        head = data["head"]
        head_pair = None
        if head is not None:
            if (
                not isinstance(head, dict)
                or set(head) != {"version", "manifest_digest"}
                or not isinstance(head["version"], str)
                or not is_digest(head["manifest_digest"])
            ):
                raise fail("head must be null or {version, manifest_digest}")
            head_pair = (head["version"], head["manifest_digest"])
        files_raw = data["files"]
        if not isinstance(files_raw, dict):
            raise fail("files must be an object")
        files = {}
        for path, entry in files_raw.items():
            if (
                not isinstance(entry, dict)
                or set(entry) != {"role", "digest"}
                or not isinstance(entry["role"], str)
                or entry["role"] not in ROLES
                or not is_digest(entry["digest"])
            ):
                raise fail(f"files[{path!r}]: expected {{role: known role, digest: sha256:...}}")
            if not safe_path(path):
                raise fail(f"files[{path!r}]: not a safe relative path")
            files[path] = SiteFile(entry["role"], entry["digest"])
        return cls(gen["sealbook"], tuple(gen["theme"]), data["preview"], head_pair, files)


def safe_path(path: str) -> bool:
    """A relative POSIX path inside the site: no ``..``, no absolute, no empty parts."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and "\\" not in path
        and all(p not in ("", ".", "..") for p in parts)
        and all(ch.isprintable() for ch in path)
    )
