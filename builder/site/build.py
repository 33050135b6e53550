"""Build the catalog site from verified releases (or, for previews, from the working tree).

Steps of `build_site`:
  (1) decide every page from the chain (`builder.site.model`);
  (2) key every page and frozen source; reuse the unchanged ones from the previous build;
  (3) render the rest through mkdocs-material into a fresh build folder; meanwhile a child
      process links the reused files and renders the small pages (alias, latest, alert);
  (4) write the version data, search index, release files and trusted roots;
  (5) list every file in ``site-manifest.json`` (each hashed once: when written, or proven
      by the page cache when carried over); record the page cache index;
  (6) publish by an atomic symlink flip (the caller's ``out``).
A failure anywhere removes the build folder; the published site is untouched.
"""

from __future__ import annotations

import functools
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from builder.site import publish as pub
from builder.site import views as v
from builder.site.assets import sealbook_version, theme_fingerprint
from builder.site.cache import PageCache, key_bytes
from builder.site.light import FastLight
from builder.site.model import ReleaseInput, SiteModel, build_model
from builder.site.render import (
    CSP,
    MaterialPage,
    Progress,
    SiteGlobals,
    light_environment,
    render_material,
)
from builder.site.sitemanifest import SiteFiles
from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.errors import SealbookError
from verifier.files import read_regular
from verifier.release import MAX_MANIFEST_BYTES
from verifier.sitemanifest import SiteManifest


@dataclass
class BuildResult:
    """What a build did."""

    site: Path
    """The published path (``--out``)."""
    build: Path
    """The build folder it points at."""
    files: int
    rendered: int
    reused: int
    seconds: float
    model: SiteModel
    manifest: SiteManifest
    notes: list[str] = field(default_factory=list)


def build_site(
    releases: list[ReleaseInput],
    out: Path,
    site: v.SiteContext,
    roots: dict[str, bytes],
    *,
    stream: TextIO | None = None,
    proven: dict[str, Any] | None = None,
) -> BuildResult:
    """Build and publish the site for ``releases`` (genesis to head) at ``out``.

    ``roots`` maps a trusted root's fingerprint to its bytes (offered for download);
    ``proven`` the frozen sources the verifier proved (kept in the page cache index).
    """
    stream = stream if stream is not None else sys.stderr
    start = time.monotonic()
    out = Path(out).absolute()
    with pub.building(out, stream):
        if site.preview:
            pub.refuse_signed(out)
        build = pub.new_build(out)
        files = SiteFiles(build)
        try:
            previous = pub.current_build(out)
            result = _build_into(files, previous, releases, site, roots, stream, proven or {})
        except BaseException:
            files.abort_links()
            pub.discard(build)
            raise
        pub.publish(out, build)
    result.site = out
    result.seconds = time.monotonic() - start
    return result


def render_site(
    releases: list[ReleaseInput],
    into: Path,
    site: v.SiteContext,
    roots: dict[str, bytes],
) -> SiteManifest:
    """Render the site of ``releases`` and ``site`` afresh into the empty folder ``into``.

    The pure core of a build, without the page cache or publishing: the same releases,
    settings and sealbook give the same files, byte for byte (`sealbook-verify site`
    reproduces a site with it and compares). Returns the site manifest written there.
    """
    files = SiteFiles(into)
    try:
        result = _build_into(files, None, releases, site, roots, _Quiet(), {})
    except BaseException:
        files.abort_links()
        raise
    return result.manifest


class _Quiet:
    """A stream that drops the progress lines."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None


def _build_into(
    files: SiteFiles,
    previous_build: Path | None,
    releases: list[ReleaseInput],
    site: v.SiteContext,
    roots: dict[str, bytes],
    stream: Any,
    proven: dict[str, Any],
) -> BuildResult:
    # (1)
    model = build_model(releases)
    sb = SiteGlobals(site.site_name, site.preview, model.dev)
    salt = f"{sealbook_version()}|{theme_fingerprint()}|{CSP}|dev={sb.dev}"
    cache = PageCache(previous_build, salt)
    previous = cache.previous
    # (2) key every page; the unchanged ones are carried over with their proven digests
    material: list[MaterialPage] = [
        MaterialPage(layout.HOME, "Catalog", lambda: (v.catalog_view(model, site), [])),
        MaterialPage(layout.RELEASES_PAGE, "Releases", lambda: (v.releases_view(model, site), [])),
        MaterialPage(layout.AUDIT_PAGE, "Audit", lambda: (v.audit_view(model, site), [])),
    ]
    build = files.site
    reused_pages = 0

    def reused(path: str, key: str, role: str) -> bool:
        nonlocal reused_pages
        found = cache.reusable(path, key)
        if found is not None:
            files.link(f"{previous}/{path}", path, found[0], role, found[1])
            reused_pages += 1
        return found is not None

    # The pages a release owns depend only on the chain up to it (released pages never
    # change): one key per release covers them all.
    owner = release_keys(releases, site, salt)
    diff_into = {(d.new.slug, d.new.revision, d.new_release.version): d.path for d in model.diffs}
    for page in model.revisions:
        if not reused(page.path, cache.derived(page.path, owner[page.release.version]), "page"):
            diff_from = diff_into.get((page.slug, page.runbook.revision, page.release.version))
            material.append(
                MaterialPage(page.path, page.runbook.title, _revision_loader(page, site, diff_from))
            )
    for diff in model.diffs:
        if not reused(diff.path, cache.derived(diff.path, owner[diff.new_release.version]), "page"):
            material.append(
                MaterialPage(diff.path, f"{diff.new.title} (changes)", _diff_loader(diff))
            )
    for rp in model.release_pages:
        if not reused(rp.path, cache.derived(rp.path, owner[rp.release.version]), "page"):
            material.append(
                MaterialPage(rp.path, f"Release {rp.release.version}", _release_loader(rp, site))
            )
    light: list[tuple[str, str, dict[str, Any]]] = []
    """(template, path, view) of the small pages to render."""
    aliases = 0
    for alias in model.aliases:
        if not reused(alias.path, cache.derived(alias.path, owner[alias.release.version]), "alias"):
            light.append(("alias", alias.path, v.alias_view(alias, site)))
            aliases += 1
    # Latest and alert pages follow the chain head: keyed by what they show.
    for latest in model.latest:
        view = v.latest_view(latest, model)
        if not reused(latest.path, cache.derived(latest.path, _shown(view, site)), "alias"):
            light.append(("latest", latest.path, view))
    for alert in model.alerts:
        view = v.alert_view(alert)
        if not reused(alert.path, cache.derived(alert.path, _shown(view, site)), "alias"):
            light.append(("alert", alert.path, view))
    # Frozen sources the previous build published with the same signed digest.
    fresh: list[tuple[str, ReleaseInput, Any]] = []
    for rel in [] if site.preview else releases:
        for rb in rel.manifest.runbooks:
            path = layout.release_source(rel.version, rb.slug)
            carried = cache.reusable(path, cache.derived(path, rb.digest))
            if carried is not None and carried[0] == rb.digest:
                files.link(f"{previous}/{path}", path, rb.digest, "release-source", carried[1])
                continue
            # The same signed bytes, published by the previous build for another release.
            same = cache.holding(rb.digest, "releases/") if previous is not None else None
            if same is not None:
                files.link(f"{previous}/{same[0]}", path, rb.digest, "release-source", same[1])
            else:
                fresh.append((path, rel, rb))
    # The small pages are rendered by the child that links (step 3).
    fast = FastLight(light_environment(), sb)
    for template, path, view in light:
        files.defer(path, "alias", functools.partial(fast.render, template, path, view))
    progress = Progress(len(material), stream=stream)
    # (3)
    # mkdocs' (empty) docs folder sits beside the build, so a killed build's is pruned by
    # the next publish (`builder.site.publish`) instead of staying in the temp dir.
    work = build.with_name(f"{build.name}.mkdocs")
    try:
        # Once mkdocs has emptied the build folder, a child process links what the previous
        # build proved and renders the small pages meanwhile.
        render_material(material, build.absolute(), work, sb, progress, files.start_links)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    written_later = {layout.VERSIONS_JS, layout.SEARCH_JSON, layout.SEARCH_JS}
    files.adopt({p.path: "page" for p in material}, written_later)
    # (4)
    manifests = [r.manifest for r in releases]
    head = releases[-1] if releases else None
    files.write(layout.VERSIONS_JS, layout.versions_js(manifests), "version-data")
    index = layout.search_index_json(head.manifest if head else None)
    files.write(layout.SEARCH_JSON, index, "search-index")
    files.write(layout.SEARCH_JS, layout.search_index_js(index), "search-index")
    if not site.preview:
        for rel in releases:
            files.write(
                layout.release_manifest(rel.version), rel.manifest_bytes, "release-manifest"
            )
            if rel.bundle_bytes is not None:
                files.write(layout.release_bundle(rel.version), rel.bundle_bytes, "release-bundle")
        for path, rel, rb in fresh:
            files.write(path, read_source(rel, rb), "release-source")
        for rel in releases:
            for linked in rel.manifest.files:
                files.write(
                    layout.release_file(rel.version, linked.path),
                    read_linked(rel, linked.path, linked.digest),
                    "release-file",
                )
        for fingerprint, raw in sorted(roots.items()):
            files.write(layout.trusted_root_file(fingerprint), raw, "trusted-root")
    files.finish_links()
    # (5)
    head_pair = None if site.preview or head is None else (head.version, head.manifest_digest)
    manifest = files.write_manifest(preview=site.preview, head=head_pair, settings=site.settings())
    cache.write_index(build, {p: f.digest for p, f in manifest.files.items()}, files.stats, proven)
    notes = [
        f"alert {name!r} gets no page (not a safe or unique file name)"
        for name in model.skipped_alerts
    ]
    return BuildResult(
        site=build,
        build=build,
        files=len(manifest.files) + 1,
        rendered=len(material) + aliases,
        reused=reused_pages,
        seconds=0.0,
        model=model,
        manifest=manifest,
        notes=notes,
    )


def release_keys(releases: list[ReleaseInput], site: v.SiteContext, salt: str) -> dict[str, str]:
    """version -> the cache key base of the pages that release owns.

    A release's revision, alias, diff and release pages are decided by the chain up to it
    (`builder.site.model`) and the site's settings: the key chains each release's signed
    facts (manifest digest, signature) onto its predecessor's, starting from the settings.
    """
    settings: dict[str, Any] = {
        "site_name": site.site_name,
        "site_url": site.site_url,
        "preview": site.preview,
        "sealbook": site.sealbook,
        "roots": list(site.roots),
        "signers": list(site.signers),
    }
    if site.problems:  # a preview's pages show what `check` found in them
        settings["problems"] = {slug: list(found) for slug, found in site.problems.items()}
    key = digest(key_bytes({"salt": salt, "site": settings}))
    keys = {}
    for rel in releases:
        key = digest(key_bytes({"previous": key, "release": rel.facts()}))
        keys[rel.version] = key
    return keys


def _shown(view: dict[str, Any], site: v.SiteContext) -> str:
    """The cache key base of a latest or alert page: its whole view and the site's name.

    ``repr`` of plain strings, numbers, None, lists and dicts built in a fixed order is
    unambiguous and much cheaper than JSON for thousands of small pages.
    """
    return digest(repr((site.site_name, site.preview, view)).encode())


def read_source(rel: ReleaseInput, runbook: Any) -> bytes:
    """A frozen source, re-checked against its signed digest (it may have changed since)."""
    return _read_signed(rel.source_path(runbook), None if rel.unsigned else runbook.digest)


def read_linked(rel: ReleaseInput, path: str, want: str) -> bytes:
    """A linked file of a release, re-checked against its signed digest."""
    return _read_signed(rel.sources.parent / path, want)


def _read_signed(path: Path, want: str | None) -> bytes:
    """``path``'s bytes, refused unless they hash to ``want`` (None: unsigned, a preview)."""
    try:
        data = read_regular(path, MAX_MANIFEST_BYTES)  # a FIFO swapped in must not hang us
    except OSError as exc:
        raise SourceChanged(
            str(path), f"cannot read ({exc.strerror})", "restore the release"
        ) from None
    if want is not None and digest(data) != want:
        raise SourceChanged(
            str(path), "changed since it was verified", "restore the release and build again"
        )
    return data


class SourceChanged(SealbookError):
    """A frozen source differs from its signed digest at render time."""


def _revision_loader(page: Any, site: v.SiteContext, diff_from: str | None) -> Any:
    def load() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        source = read_source(page.release, page.runbook)
        view, prose = v.revision_view(page, source, site, diff_from)
        return view, list(prose.toc)

    return load


def _diff_loader(diff: Any) -> Any:
    def load() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        old = read_source(diff.old_release, diff.old)
        new = read_source(diff.new_release, diff.new)
        return v.diff_view(diff, old, new), []

    return load


def _release_loader(rp: Any, site: v.SiteContext) -> Any:
    def load() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return v.release_view(rp, site), []

    return load
