"""The catalog site's layout: URL scheme, pinned run commands, version data, search index.

The verifier owns this format: ``sealbook build`` writes the site with these functions
and ``sealbook-verify site`` recomputes what they must yield from the verified chain.
Everything here is pure (models in, strings or bytes out).

URL scheme (all relative to the site root, ``use_directory_urls: false``)::

    index.html                                  catalog (home)
    releases.html                               every release, newest first
    audit.html                                  policy, roots, how to verify offline
    releases/<version>/manifest.json            the signed release, byte for byte: manifest,
    releases/<version>/manifest.json.sigstore.json   bundle and frozen sources, so that
    releases/<version>/runbooks/<slug>.md       `sealbook-verify releases SITE/releases` works
    versions/<version>/index.html               one release: provenance, changes, downloads
    versions/<version>/runbooks/<slug>.html     alias: <slug> as of <version>
    runbooks/<slug>/r<revision>.html            one page per revision (distinct content)
    runbooks/<slug>/latest.html                 points at the chain head's revision
    runbooks/<slug>/diff-r<a>-r<b>.html         diff between consecutive revisions
    alerts/<AlertName>.html                     leads to the runbook(s) naming that alert
    trust/<hex>.json                            trusted roots offered for download
    assets/versions.js                          version data (one shared script)
    search/search_index.json, search_index.js   search index of the latest pages
"""

from __future__ import annotations

import html
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifier.digests import canonical_json
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest, Runbook, Snippet

VERSIONS_JS = "assets/versions.js"
SEARCH_JSON = "search/search_index.json"
SEARCH_JS = "search/search_index.js"
SITE_MANIFEST = "site-manifest.json"
HOME = "index.html"
RELEASES_PAGE = "releases.html"
AUDIT_PAGE = "audit.html"
PREVIEW_META = "sealbook-preview"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self'; "
    "frame-src 'self'; child-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'none'; object-src 'none'"
)
"""Every page's Content-Security-Policy: no inline or foreign scripts, nothing external."""
"""``<meta name="sealbook-preview">`` marks every page built by ``sealbook preview``."""

ALERT_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")

# The search configuration material's worker expects (lunr); fixed so the index is reproducible.
SEARCH_CONFIG: dict[str, Any] = {
    "lang": ["en"],
    "separator": r"[\s\-_/.]+",
    "pipeline": ["stopWordFilter"],
    "fields": {"title": {"boost": 1000.0}, "text": {"boost": 1.0}, "tags": {"boost": 1000000.0}},
}


def revision_page(slug: str, revision: int) -> str:
    """The page of one revision of a runbook."""
    return f"runbooks/{slug}/r{revision}.html"


def latest_page(slug: str) -> str:
    """The page that points at the chain head's revision of a runbook."""
    return f"runbooks/{slug}/latest.html"


def diff_page(slug: str, old: int, new: int) -> str:
    """The diff between revisions ``old`` and ``new`` of a runbook."""
    return f"runbooks/{slug}/diff-r{old}-r{new}.html"


def alias_page(version: str, slug: str) -> str:
    """The small page for ``slug`` as of release ``version``."""
    return f"versions/{version}/runbooks/{slug}.html"


def release_page(version: str) -> str:
    """The page of one release."""
    return f"versions/{version}/index.html"


def release_file(version: str, path: str) -> str:
    """Where a linked file (``runbooks/...`` in the release) of release ``version`` is published."""
    return f"releases/{version}/{path}"


def release_source(version: str, slug: str) -> str:
    """Where the frozen source of ``slug`` in release ``version`` is published."""
    return f"releases/{version}/runbooks/{slug}.md"


def release_manifest(version: str) -> str:
    """Where the signed manifest of ``version`` is published (``sealbook run --from``)."""
    return f"releases/{version}/{MANIFEST_NAME}"


def release_bundle(version: str) -> str:
    """Where the Sigstore bundle of ``version`` is published."""
    return f"releases/{version}/{BUNDLE_NAME}"


def trusted_root_file(fingerprint: str) -> str:
    """Where a trusted root with ``sha256:<hex>`` fingerprint is offered for download."""
    return f"trust/{fingerprint.removeprefix('sha256:')}.json"


def alert_page(name: str) -> str:
    """The stable page of one alert, for alerting rules' ``runbook_url``."""
    return f"alerts/{name}.html"


def valid_alert(name: str) -> bool:
    """Alert names that can become a file name; others are shown but get no page."""
    return ALERT_RE.fullmatch(name) is not None and ".." not in name


def relative(from_page: str, to_path: str) -> str:
    """The relative URL from page ``from_page`` to site path ``to_path`` (works on file://)."""
    depth = from_page.count("/")
    return "../" * depth + to_path


def root_of(page: str) -> str:
    """The relative URL of the site root as seen from ``page`` (``""`` at the root)."""
    return "../" * page.count("/")


def run_command(slug: str, version: str, snippet: Snippet, site_url: str | None) -> str:
    """The pinned run command shown for an executable snippet."""
    command = (
        f"sealbook run {slug}@{version} {snippet.id} "
        f"--sha256 {snippet.digest.removeprefix('sha256:')}"
    )
    if site_url:
        command += f" --from {shlex.quote(site_url)}"
    return command


def alerts_of(runbook: Runbook) -> list[str]:
    """The alert names a runbook's metadata lists (strings only, in order, no duplicates)."""
    value = runbook.metadata.get("alerts")
    items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
    seen: list[str] = []
    for item in items:
        if isinstance(item, str) and item and item not in seen:
            seen.append(item)
    return seen


def text_list(value: object) -> list[str]:
    """A metadata value shown as a list of strings (tags, owners)."""
    if isinstance(value, list):
        return [
            str(v) for v in value if isinstance(v, str | int | float) and not isinstance(v, bool)
        ]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    return []


def text_value(value: object) -> str:
    """A metadata value shown as one string (service, severity, summary)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return ""


@dataclass(frozen=True)
class History:
    """Per slug, which revision each release holds; derived from the chain alone."""

    releases: tuple[str, ...]
    """Versions from genesis to head."""
    revisions: dict[str, dict[str, int]]
    """slug -> {version -> revision}."""
    retired: dict[str, str]
    """slug -> version of the release that retired it (only slugs not in the head)."""

    @classmethod
    def of(cls, manifests: Sequence[Manifest]) -> History:
        revisions: dict[str, dict[str, int]] = {}
        retired: dict[str, str] = {}
        for manifest in manifests:
            for rb in manifest.runbooks:
                revisions.setdefault(rb.slug, {})[manifest.version] = rb.revision
                retired.pop(rb.slug, None)
            for gone in manifest.retired:
                retired[gone.slug] = manifest.version
        head = manifests[-1] if manifests else None
        live = {rb.slug for rb in head.runbooks} if head else set()
        for slug in revisions:
            if slug not in live and slug not in retired and head is not None:
                retired[slug] = head.version
        return cls(tuple(m.version for m in manifests), revisions, retired)


def versions_data(manifests: Sequence[Manifest]) -> dict[str, Any]:
    """The version data every runbook page's switcher reads (genesis-to-head manifests)."""
    history = History.of(manifests)
    return {
        "schema": "sealbook.versions/v1",
        "head": history.releases[-1] if history.releases else None,
        "releases": list(history.releases),
        "runbooks": {
            slug: {"revisions": revs, "retired": history.retired.get(slug)}
            for slug, revs in sorted(history.revisions.items())
        },
    }


def versions_js(manifests: Sequence[Manifest]) -> bytes:
    """``assets/versions.js``: sets ``window.SEALBOOK_VERSIONS``; loaded by ``<script src>``."""
    data = canonical_json(versions_data(manifests)).decode("utf-8")
    return f"window.SEALBOOK_VERSIONS = {data};\n".encode()


def search_docs(head: Manifest) -> list[dict[str, Any]]:
    """Search entries for the latest page of every live runbook (title and text are HTML)."""
    docs = []
    for rb in head.runbooks:
        meta = rb.metadata
        alerts = alerts_of(rb)
        parts = [
            text_value(meta.get("summary")),
            f"Runbook {rb.slug}",
            f"Service: {text_value(meta.get('service'))}" if meta.get("service") else "",
            f"Severity: {text_value(meta.get('severity'))}" if meta.get("severity") else "",
            f"Alerts: {' '.join(alerts)}" if alerts else "",
            "Snippets: " + " ".join(s.id for s in rb.snippets) if rb.snippets else "",
        ]
        docs.append(
            {
                "location": revision_page(rb.slug, rb.revision),
                "title": html.escape(rb.title),
                "text": html.escape(" \u00b7 ".join(p for p in parts if p)),
                "tags": [html.escape(t) for t in text_list(meta.get("tags")) + alerts],
            }
        )
    return docs


def search_index_json(head: Manifest | None) -> bytes:
    """``search/search_index.json`` in material's format, built from signed data only."""
    doc = {"config": SEARCH_CONFIG, "docs": search_docs(head) if head else []}
    return canonical_json(doc)


def search_index_js(index_json: bytes) -> bytes:
    """``search/search_index.js``: the index ``search_index_json`` made, for ``file://``."""
    return b"var __index = " + index_json
