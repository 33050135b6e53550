"""``site-manifest.json`` (``sealbook.site/v2``): every file of a built site, and what built it.

```
{
  "schema": "sealbook.site/v2",
  "generator": {"sealbook": "0.1.0",
                "renderer": {"jinja2": "3.1.6", "markdown": "3.9", "mkdocs": "1.6.1", ...}},
  "settings": {...},                      # the policy's site settings the pages show
  "preview": false,                       # true: built by `sealbook preview`, never valid
  "head": {"version": "...", "manifest_digest": "sha256:..."} | null,
  "files": {"index.html": {"role": "page", "digest": "sha256:..."}, ...}
}
```
Canonical JSON (RFC 8785). The manifest does not list itself. The site is a pure function of
the verified releases, ``settings`` and ``generator``: `sealbook-verify site` renders it again
with the same three and compares every byte, so ``generator`` and ``settings`` say what an
auditor needs to reproduce it. Roles are informative (what each file is); the proof is the
reproduction, never the role or the listed digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from verifier.digests import canonical_json, is_digest
from verifier.errors import InputError

SCHEMA = "sealbook.site/v2"

RENDERER_DISTRIBUTIONS = (
    "jinja2",
    "markdown",
    "markdown-it-py",
    "markupsafe",
    "mdit-py-plugins",
    "mkdocs",
    "mkdocs-material",
    "nh3",
    "pygments",
)
"""The distributions whose versions, with sealbook's, decide every byte a build writes."""

ROLES: dict[str, str] = {
    "page": "a page rendered through the theme (catalog, revision, diff, release, audit)",
    "alias": "a small page without the theme (release alias, latest pointer, alert page)",
    "asset": "a static file sealbook ships in site-template/ (CSS, JS, the iframe-worker shim)",
    "theme-asset": "a static file of mkdocs-material (JS, CSS, icons, lunr)",
    "version-data": "assets/versions.js, the data of every page's version switcher",
    "search-index": "search/search_index.json and .js, built from signed data only",
    "release-manifest": "releases/<version>/manifest.json, the signed bytes",
    "release-bundle": "releases/<version>/manifest.json.sigstore.json",
    "release-source": "releases/<version>/runbooks/<slug>.md, a frozen source",
    "release-file": "releases/<version>/runbooks/<path>, a linked file (image, script) of a release",
    "trusted-root": "trust/<hex>.json, a trusted root of the building policy",
}


def version_of(dist: str) -> str:
    """Installed version of a distribution (``0+unknown`` when it is not installed)."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def generator() -> dict[str, Any]:
    """What this installation builds with: sealbook's version and the renderer's."""
    return {
        "sealbook": version_of("sealbook"),
        "renderer": {dist: version_of(dist) for dist in RENDERER_DISTRIBUTIONS},
    }


@dataclass(frozen=True)
class SiteFile:
    """One file of the site."""

    role: str
    digest: str


@dataclass(frozen=True)
class SiteManifest:
    """The parsed ``site-manifest.json``."""

    generator: dict[str, Any]
    """``{"sealbook": version, "renderer": {distribution: version}}``."""
    settings: dict[str, Any]
    """The site settings taken from the building policy (name, URL, roots, signers)."""
    preview: bool
    head: tuple[str, str] | None
    """(version, manifest digest) of the chain head the site was built from."""
    files: dict[str, SiteFile] = field(default_factory=dict)
    schema: str = SCHEMA

    @property
    def sealbook(self) -> str:
        """The sealbook version that built the site."""
        return str(self.generator.get("sealbook", ""))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "generator": self.generator,
            "settings": self.settings,
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
        if not isinstance(data, dict) or "schema" not in data:
            raise fail("expected a JSON object with a schema")
        if data["schema"] != SCHEMA:
            raise fail(f"unknown schema {data['schema']!r} (expected {SCHEMA!r})")
        if set(data) != {"schema", "generator", "settings", "preview", "head", "files"}:
            raise fail("expected exactly schema, generator, settings, preview, head, files")
        gen = data["generator"]
        if (
            not isinstance(gen, dict)
            or set(gen) != {"sealbook", "renderer"}
            or not isinstance(gen["sealbook"], str)
            or not isinstance(gen["renderer"], dict)
            or not all(isinstance(v, str) for v in gen["renderer"].values())
        ):
            raise fail("generator must be {sealbook: str, renderer: {name: version}}")
        if not isinstance(data["settings"], dict):
            raise fail("settings must be an object")
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
        return cls(gen, data["settings"], data["preview"], head_pair, files)


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
