"""What each page template receives: plain dicts built from the page model (pure).

Values are plain strings: the templates escape them (autoescape). The only HTML that
reaches a template unescaped is the runbook prose, rendered by `builder.site.prose`
with raw HTML disabled, wrapped as `Markup` here.

Every page also has an ``inputs`` dict: everything its HTML depends on besides the
theme. Its digest is the page's cache key (`builder.site.cache`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from builder.console import reduce_console
from builder.diff import diff_snippets
from builder.frontmatter import body_start as front_matter_body_start
from builder.runbook import CONSOLE_LANGUAGES, split_lines
from builder.site import model as m
from builder.site.highlight import highlight
from builder.site.prose import Prose, render_prose
from verifier import sitelayout as layout
from verifier.digests import signed_text
from verifier.manifest import Runbook

SHORT = 12


@dataclass(frozen=True)
class SiteContext:
    """Facts about the whole build that pages show."""

    site_name: str
    site_url: str | None
    preview: bool
    sealbook: str
    roots: tuple[dict[str, Any], ...]
    """name, fingerprint, pinned, dev, url (of the download) for every policy root."""
    signers: tuple[dict[str, str], ...]
    problems: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    """Preview only: slug -> what ``sealbook check`` found in it (line, severity, code, message,
    snippet id or None); ``""`` -> files that cannot be shown at all."""

    def settings(self) -> dict[str, Any]:
        """The settings a site records in ``site-manifest.json`` (all its pages depend on)."""
        return {
            "site_name": self.site_name,
            "site_url": self.site_url,
            "roots": [dict(r) for r in self.roots],
            "signers": [dict(s) for s in self.signers],
        }

    def root_url(self, root_name: str) -> str | None:
        """Site path of the download of the named root, if offered."""
        for root in self.roots:
            if root["name"] == root_name:
                url = root.get("url")
                return str(url) if url else None
        return None


_LEADING_H1_RE = re.compile(r"\s*(<h1[ >].*?</h1>)", re.DOTALL)


def provenance(rel: m.ReleaseInput) -> dict[str, Any]:
    """The provenance panel's data for ``rel``."""
    prov = rel.provenance
    if prov is None:
        return {"signed": False, "version": rel.version, "manifest_digest": rel.manifest_digest}
    return {"signed": True, **prov.to_json()}


def snippet_views(
    rb: Runbook,
    version: str,
    site: SiteContext,
    blocks: dict[int, str] | None = None,
    *,
    problems: bool = False,
) -> list[dict[str, Any]]:
    """Per snippet: id, language, digest, code, exact copy text and the pinned command.

    With the ``blocks`` as written (`Prose.blocks`, revision pages), a console block shows its
    whole transcript (output dimmed), others are highlighted (`builder.site.highlight`); copy
    text and run command stay the signed text. Without them (the thousands of small alias
    pages), code is shown plain.
    """
    shown = transcripts(blocks, rb) if blocks else {}
    found = site.problems.get(rb.slug, ()) if site.preview and problems else ()
    views = []
    for s in rb.snippets:
        run = None
        if s.executable and not site.preview:
            run = layout.run_command(rb.slug, version, s, site.site_url)
        views.append(
            {
                "id": s.id,
                "language": s.language,
                "executable": s.executable,
                "params": list(s.params),
                "digest": s.digest,
                "html": shown.get(s.id)
                or (highlight(s.language, s.text) if blocks is not None else s.text),
                "copy_text": s.copy_text,
                "run": run,
                "run_parts": run_parts(run, rb.slug, version, s.id) if run else None,
            }
        )
        if problems:  # a revision page's block shows `check`'s problems with it (a preview)
            views[-1]["problems"] = [p for p in found if p["snippet"] == s.id]
    return views


def run_parts(run: str, slug: str, version: str, snippet_id: str) -> list[str]:
    """The pinned command in parts the page keeps whole on one line each (joined by spaces):
    what runs (``sealbook run <slug>@<release> <id>``), the hash (``--sha256 <hex>``), and
    the rest (``--from <url>``). A line may wrap between parts, never inside the hash."""
    what = f"sealbook run {slug}@{version} {snippet_id}"
    rest = run.removeprefix(what + " ").split(" ", 2)
    parts = [what, " ".join(rest[:2]), *rest[2:]]
    if rest[0] != "--sha256" or " ".join(parts) != run:
        return [run]
    return parts


def transcripts(blocks: dict[int, str], rb: Runbook) -> dict[str, Markup]:
    """snippet id -> the console block as written, command lines marked, output dimmed.

    ``blocks`` come from the same CommonMark parse that made the snippets. A transcript whose
    commands are not the signed text is not shown (the signed text is, as for any block).
    """
    found: dict[str, Markup] = {}
    for index, content in blocks.items():
        snippet = rb.snippets[index]
        if snippet.language not in CONSOLE_LANGUAGES:
            continue
        lines = content.rstrip("\n").split("\n")
        reduction = reduce_console(lines)
        if signed_text(reduction.text) != snippet.text:
            continue
        commands = {i for i, _ in reduction.commands}
        found[snippet.id] = Markup("\n").join(
            Markup('<span class="{}">{}</span>').format(
                "sb-cmd" if i in commands else "sb-out", line
            )
            for i, line in enumerate(lines)
        ) + Markup("\n")
    return found


def body_start(source: bytes) -> int:
    """The 0-based line where a runbook's body starts (after front matter)."""
    # Signed sources were parsed at release time: only the closing delimiter matters here.
    return front_matter_body_start(
        [line.rstrip("\r\n") for line in split_lines(source.decode("utf-8"))]
    )


def meta_rows(rb: Runbook) -> list[tuple[str, str]]:
    """Label/value rows of the runbook's metadata shown above the prose."""
    meta = rb.metadata
    rows = []
    for key, label in (("summary", "Summary"), ("service", "Service"), ("severity", "Severity")):
        value = layout.text_value(meta.get(key))
        if value:
            rows.append((label, value))
    for key, label in (("owners", "Owners"), ("tags", "Tags")):
        values = layout.text_list(meta.get(key))
        if values:
            rows.append((label, ", ".join(values)))
    return rows


def revision_view(
    page: m.RevisionPage, source: bytes, site: SiteContext, diff_from: str | None
) -> tuple[dict[str, Any], Prose]:
    """The view of a revision page and its rendered prose."""
    rb = page.runbook
    root = layout.root_of(page.path)
    files = {}
    if not site.preview:  # a preview publishes no release files: its images stay links
        version = page.release.version
        files = {
            f.path.split("/", 1)[1]: root + layout.release_file(version, f.path)
            for f in page.release.manifest.files
        }
    prose = render_prose(source, rb, body_start(source), files)
    parts = list(prose.parts)
    heading = None
    lead = parts[0] if parts else None
    first = _LEADING_H1_RE.match(lead) if isinstance(lead, str) else None
    if isinstance(lead, str) and first is not None:
        # The runbook's own H1 leads the page, above the provenance panel.
        heading = Markup(first.group(1))  # noqa: S704 - prose is sanitised
        parts[0] = lead[first.end() :]
    body = [
        {"snippet": part} if isinstance(part, int) else {"html": Markup(part)}  # noqa: S704 - prose is sanitised
        for part in parts
    ]
    view = {
        "heading": heading,
        "kind": "revision",
        "root": root,
        "slug": rb.slug,
        "title": rb.title,
        "revision": rb.revision,
        "digest": rb.digest,
        "prov": provenance(page.release),
        "meta_rows": meta_rows(rb),
        "alerts": layout.alerts_of(rb),
        "snippets": snippet_views(rb, page.release.version, site, prose.blocks, problems=True),
        "body": body,
        "diff_from": layout.relative(page.path, diff_from) if diff_from else None,
        "problems": list(site.problems.get(rb.slug, ())) if site.preview else [],
    }
    return view, prose


def revision_inputs(
    page: m.RevisionPage, site: SiteContext, diff_from: str | None
) -> dict[str, Any]:
    """Everything a revision page depends on besides the theme (its cache key inputs)."""
    return {
        "kind": "revision",
        "runbook": page.runbook.to_json(),
        "release": page.release.facts(),
        "site_url": site.site_url,
        "preview": site.preview,
        "site_name": site.site_name,
        "diff_from": diff_from,
    }


def alias_view(page: m.AliasPage, site: SiteContext) -> dict[str, Any]:
    """The view of a release alias page."""
    rb = page.runbook
    return {
        "kind": "alias",
        "slug": rb.slug,
        "title": rb.title,
        "revision": rb.revision,
        "digest": rb.digest,
        "introduced": page.introduced,
        "prov": provenance(page.release),
        "target": layout.relative(page.path, page.target),
        "snippets": snippet_views(rb, page.release.version, site),
    }


def alias_inputs(page: m.AliasPage, site: SiteContext) -> dict[str, Any]:
    """Cache key inputs of an alias page."""
    return {
        "kind": "alias",
        "runbook": page.runbook.to_json(),
        "release": page.release.facts(),
        "introduced": page.introduced,
        "site_url": site.site_url,
        "preview": site.preview,
        "site_name": site.site_name,
    }


def _lines(source: bytes) -> list[str]:
    return source.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n").split("\n")


def diff_view(page: m.DiffPage, old_source: bytes, new_source: bytes) -> dict[str, Any]:
    """The view of a diff page: text diff plus per-snippet digest changes."""
    lines = []
    for line in list(difflib.unified_diff(_lines(old_source), _lines(new_source), lineterm=""))[2:]:
        op = {"-": "del", "+": "add", "@": "hunk"}.get(line[:1], "ctx")
        lines.append((op, line))
    old = {s.id: s.digest for s in page.old.snippets}
    new = {s.id: s.digest for s in page.new.snippets}
    # The same signed text under a new id is a rename, not a removal and an addition.
    renames = {
        c.old_id: c.id
        for c in diff_snippets(page.old.snippets, page.new.snippets)
        if c.status == "renamed" and c.old_id is not None
    }
    changes: list[dict[str, str | None]] = []
    for sid in [s.id for s in page.old.snippets] + [
        s.id for s in page.new.snippets if s.id not in old and s.id not in renames.values()
    ]:
        if sid in renames:
            to = renames[sid]
            changes.append(
                {"id": to, "change": "renamed", "from": sid, "old": old[sid], "new": new[to]}
            )
            continue
        a, b = old.get(sid), new.get(sid)
        change = (
            "added" if a is None else "removed" if b is None else "same" if a == b else "changed"
        )
        changes.append({"id": sid, "change": change, "from": None, "old": a, "new": b})
    return {
        "kind": "diff",
        "root": layout.root_of(page.path),
        "slug": page.new.slug,
        "title": page.new.title,
        "old": _side(page, page.old, page.old_release),
        "new": _side(page, page.new, page.new_release),
        "changes": changes,
        "lines": lines,
    }


def _side(page: m.DiffPage, rb: Runbook, rel: m.ReleaseInput) -> dict[str, Any]:
    return {
        "revision": rb.revision,
        "digest": rb.digest,
        "release": rel.version,
        "page": layout.relative(page.path, layout.revision_page(rb.slug, rb.revision)),
    }


def diff_inputs(page: m.DiffPage, site: SiteContext) -> dict[str, Any]:
    """Cache key inputs of a diff page."""
    return {
        "kind": "diff",
        "old": page.old.to_json(),
        "new": page.new.to_json(),
        "old_release": page.old_release.version,
        "new_release": page.new_release.version,
        "site_name": site.site_name,
        "preview": site.preview,
    }


def release_view(page: m.ReleasePage, site: SiteContext) -> dict[str, Any]:
    """The view of one release's page."""
    rel = page.release
    root_name = rel.provenance.root if rel.provenance else ""
    root_url = site.root_url(root_name)
    return {
        "kind": "release",
        "root": layout.root_of(page.path),
        "prov": provenance(rel),
        "created": rel.manifest.created,
        "commit": rel.manifest.source_commit,
        "previous": rel.manifest.previous.version if rel.manifest.previous else None,
        "root_url": layout.relative(page.path, root_url) if root_url else None,
        "manifest_url": layout.relative(page.path, layout.release_manifest(rel.version)),
        "bundle_url": layout.relative(page.path, layout.release_bundle(rel.version)),
        "added": list(page.changes.added),
        "changed": [(slug, layout.relative(page.path, diff)) for slug, diff in page.diffs],
        "retired": list(page.changes.retired),
        "unchanged": page.changes.unchanged,
        "runbooks": [(rb.slug, rb.title) for rb in rel.manifest.runbooks],
    }


def release_inputs(page: m.ReleasePage, site: SiteContext) -> dict[str, Any]:
    """Cache key inputs of a release page."""
    return {
        "kind": "release",
        "release": page.release.facts(),
        "changes": [
            list(page.changes.added),
            list(page.changes.changed),
            list(page.changes.retired),
            page.changes.unchanged,
        ],
        "diffs": [list(d) for d in page.diffs],
        "runbooks": [[rb.slug, rb.title] for rb in page.release.manifest.runbooks],
        "roots": list(site.roots),
        "site_name": site.site_name,
        "preview": site.preview,
    }


def catalog_view(model: m.SiteModel, site: SiteContext | None = None) -> dict[str, Any]:
    """The view of the catalog (home); a preview's lists the files it cannot show."""
    head = model.head
    rows = [
        {
            "slug": r.slug,
            "title": r.title,
            "summary": r.summary,
            "service": r.service,
            "severity": r.severity,
            "tags": list(r.tags),
            "alerts": list(r.alerts),
            "revision": r.revision,
            "digest": r.digest,
            "since": r.since,
            "target": r.target,
            "retired_in": r.retired_in,
        }
        for r in sorted(model.catalog, key=lambda r: (r.retired_in is not None, r.slug.lower()))
    ]
    return {
        "kind": "catalog",
        "root": "",
        "rows": rows,
        "head": head.version if head else None,
        "head_digest": head.manifest_digest if head else None,
        "live": sum(1 for r in model.catalog if r.retired_in is None),
        "retired": sum(1 for r in model.catalog if r.retired_in is not None),
        "services": sorted({r.service for r in model.catalog if r.service}),
        "severities": sorted({r.severity for r in model.catalog if r.severity}),
        "unshown": list(site.problems.get("", ())) if site is not None and site.preview else [],
        "problem_count": sum(len(v) for v in site.problems.values()) if site is not None else 0,
    }


def releases_view(model: m.SiteModel, site: SiteContext) -> dict[str, Any]:
    """The view of the releases page (newest first)."""
    rows = []
    for rel in reversed(model.releases):
        prov = provenance(rel)
        root_url = site.root_url(str(prov.get("root", "")))
        rows.append(
            {
                **prov,
                "version": rel.version,
                "manifest_digest": rel.manifest_digest,
                "page": layout.release_page(rel.version),
                "manifest_url": layout.release_manifest(rel.version),
                "bundle_url": layout.release_bundle(rel.version),
                "root_url": root_url,
            }
        )
    return {"kind": "releases", "root": "", "releases": rows}


def audit_view(model: m.SiteModel, site: SiteContext) -> dict[str, Any]:
    """The view of the audit page."""
    head = model.head
    return {
        "kind": "audit",
        "root": "",
        "sealbook": site.sealbook,
        "roots": list(site.roots),
        "signers": list(site.signers),
        "head": f"{head.version}:{head.manifest_digest}" if head else None,
    }


def latest_view(page: m.LatestPage, model: m.SiteModel) -> dict[str, Any]:
    """The view of a latest pointer page (it changes only when the runbook does)."""
    return {
        "kind": "latest",
        "slug": page.slug,
        "title": page.title,
        "revision": page.revision,
        "digest": page.digest,
        "target": layout.relative(page.path, page.target),
        "retired_in": page.retired_in,
        "since": page.since,
    }


def alert_view(page: m.AlertPage) -> dict[str, Any]:
    """The view of an alert page; it redirects when it leads to exactly one live runbook."""
    targets = [
        {
            "slug": t.slug,
            "title": t.title,
            "href": layout.relative(page.path, t.target),
            "retired_in": t.retired_in,
        }
        for t in page.targets
    ]
    live = [t for t in targets if not t["retired_in"]]
    return {
        "kind": "alert",
        "name": page.name,
        "targets": targets,
        "redirect": live[0]["href"] if len(live) == 1 and len(targets) == 1 else None,
    }
