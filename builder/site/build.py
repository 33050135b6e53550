"""Build the catalog site from verified releases (or, for previews, from the working tree).

Steps of `build_site`:
  (1) decide every page from the chain (`builder.site.model`);
  (2) key every released page; reuse the unchanged ones from the previous build;
  (3) render the rest through mkdocs-material into a fresh build folder;
  (4) write the small pages, version data, search index, release files and trusted roots;
  (5) hash everything into ``site-manifest.json``; record the page cache index;
  (6) publish by an atomic symlink flip (the caller's ``out``).
A failure anywhere removes the build folder; the published site is untouched.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from builder.site import publish as pub
from builder.site import views as v
from builder.site.assets import sealbook_version, theme_fingerprint
from builder.site.cache import PageCache
from builder.site.model import ReleaseInput, SiteModel, build_model
from builder.site.render import (
    CSP,
    MaterialPage,
    Progress,
    SiteGlobals,
    light_environment,
    render_light,
    render_material,
)
from builder.site.sitemanifest import write_site_manifest
from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.errors import SealbookError


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
    notes: list[str] = field(default_factory=list)


def build_site(
    releases: list[ReleaseInput],
    out: Path,
    site: v.SiteContext,
    roots: dict[str, bytes],
    *,
    stream: TextIO | None = None,
) -> BuildResult:
    """Build and publish the site for ``releases`` (genesis to head) at ``out``.

    ``roots`` maps a trusted root's fingerprint to its bytes (offered for download).
    """
    stream = stream if stream is not None else sys.stderr
    start = time.monotonic()
    out = Path(out).absolute()
    build = pub.new_build(out)
    try:
        result = _build_into(build, out, releases, site, roots, stream)
    except BaseException:
        pub.discard(build)
        raise
    pub.publish(out, build)
    result.seconds = time.monotonic() - start
    return result


def _build_into(
    build: Path,
    out: Path,
    releases: list[ReleaseInput],
    site: v.SiteContext,
    roots: dict[str, bytes],
    stream: TextIO,
) -> BuildResult:
    # (1)
    model = build_model(releases)
    sb = SiteGlobals(site.site_name, site.preview, model.dev)
    cache = PageCache(pub.current_build(out), f"{sealbook_version()}|{theme_fingerprint()}|{CSP}")
    roles: dict[str, str] = {}
    # (2)
    material: list[MaterialPage] = [
        MaterialPage(layout.HOME, "Catalog", lambda: (v.catalog_view(model), [])),
        MaterialPage(layout.RELEASES_PAGE, "Releases", lambda: (v.releases_view(model, site), [])),
        MaterialPage(layout.AUDIT_PAGE, "Audit", lambda: (v.audit_view(model, site), [])),
    ]
    reuse: list[str] = []
    diff_into = {(d.new.slug, d.new.revision, d.new_release.version): d.path for d in model.diffs}
    for page in model.revisions:
        diff_from = diff_into.get((page.slug, page.runbook.revision, page.release.version))
        key = cache.key(page.path, v.revision_inputs(page, site, diff_from))
        if cache.reusable(page.path, key):
            reuse.append(page.path)
        else:
            material.append(
                MaterialPage(page.path, page.runbook.title, _revision_loader(page, site, diff_from))
            )
    for diff in model.diffs:
        key = cache.key(diff.path, v.diff_inputs(diff, site))
        if cache.reusable(diff.path, key):
            reuse.append(diff.path)
        else:
            material.append(
                MaterialPage(diff.path, f"{diff.new.title} (changes)", _diff_loader(diff))
            )
    for rp in model.release_pages:
        key = cache.key(rp.path, v.release_inputs(rp, site))
        if cache.reusable(rp.path, key):
            reuse.append(rp.path)
        else:
            material.append(
                MaterialPage(rp.path, f"Release {rp.release.version}", _release_loader(rp, site))
            )
    light_todo = []
    for alias in model.aliases:
        key = cache.key(alias.path, v.alias_inputs(alias, site))
        if cache.reusable(alias.path, key):
            reuse.append(alias.path)
        else:
            light_todo.append(alias)
    total = len(material) + len(light_todo) + len(model.latest) + len(model.alerts)
    progress = Progress(total, stream=stream)
    # (3)
    with tempfile.TemporaryDirectory(prefix="sealbook-mkdocs-") as work:
        render_material(material, build.absolute(), Path(work), sb, progress)
    roles.update({p.path: "page" for p in material})
    for path in reuse:
        cache.link(path, build)
        roles[path] = "alias" if path.startswith("versions/") and "/runbooks/" in path else "page"
    # (4)
    env = light_environment()
    for alias in light_todo:
        _write(
            build, alias.path, render_light(env, "alias", alias.path, v.alias_view(alias, site), sb)
        )
        roles[alias.path] = "alias"
        progress.step()
    for latest in model.latest:
        _write(
            build,
            latest.path,
            render_light(env, "latest", latest.path, v.latest_view(latest, model), sb),
        )
        roles[latest.path] = "alias"
        progress.step()
    for alert in model.alerts:
        _write(build, alert.path, render_light(env, "alert", alert.path, v.alert_view(alert), sb))
        roles[alert.path] = "alias"
        progress.step()
    manifests = [r.manifest for r in releases]
    head = releases[-1] if releases else None
    _write(build, layout.VERSIONS_JS, layout.versions_js(manifests))
    roles[layout.VERSIONS_JS] = "version-data"
    head_manifest = head.manifest if head and not site.preview else None
    if site.preview and head is not None:
        head_manifest = head.manifest
    _write(build, layout.SEARCH_JSON, layout.search_index_json(head_manifest))
    _write(build, layout.SEARCH_JS, layout.search_index_js(head_manifest))
    roles[layout.SEARCH_JSON] = roles[layout.SEARCH_JS] = "search-index"
    if not site.preview:
        for rel in releases:
            _write(build, layout.release_manifest(rel.version), rel.manifest_bytes)
            roles[layout.release_manifest(rel.version)] = "release-manifest"
            if rel.bundle_bytes is not None:
                _write(build, layout.release_bundle(rel.version), rel.bundle_bytes)
                roles[layout.release_bundle(rel.version)] = "release-bundle"
            for rb in rel.manifest.runbooks:
                path = layout.release_source(rel.version, rb.slug)
                _write(build, path, read_source(rel, rb))
                roles[path] = "release-source"
        for fingerprint, raw in sorted(roots.items()):
            _write(build, layout.trusted_root_file(fingerprint), raw)
            roles[layout.trusted_root_file(fingerprint)] = "trusted-root"
    # (5)
    head_pair = None if site.preview or head is None else (head.version, head.manifest_digest)
    manifest = write_site_manifest(build, roles, preview=site.preview, head=head_pair)
    cache.write_index(build, {p: f.digest for p, f in manifest.files.items()})
    notes = [
        f"alert {name!r} gets no page (not a safe or unique file name)"
        for name in model.skipped_alerts
    ]
    return BuildResult(
        site=out,
        build=build,
        files=len(manifest.files) + 1,
        rendered=len(material) + len(light_todo),
        reused=cache.reused,
        seconds=0.0,
        model=model,
        notes=notes,
    )


def _write(site: Path, path: str, data: bytes) -> None:
    target = site / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def read_source(rel: ReleaseInput, runbook: Any) -> bytes:
    """A frozen source, re-checked against its signed digest (it may have changed since)."""
    path = rel.source_path(runbook)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceChanged(
            str(path), f"cannot read ({exc.strerror})", "restore the release"
        ) from None
    if not rel.unsigned and digest(data) != runbook.digest:
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
