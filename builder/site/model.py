"""The page model of the catalog site, computed from the verified chain alone (pure).

Which pages exist and what each one shows is decided here; how they look is the
theme's business (`builder.site.render` and ``site-template/``). Nothing here reads
files: frozen sources are fetched later through `ReleaseInput.source_path`.

Rules:
- one `RevisionPage` per (slug, revision), rendered for the release that first signed
  that content; it never changes when later releases arrive;
- one `AliasPage` per (release, slug): the runbook as of that release;
- one `DiffPage` per consecutive pair of revisions along the chain;
- one `LatestPage` per slug ever released: the chain head's revision, or "retired";
- one `AlertPage` per alert name (case-insensitively unique, file-name safe), naming the
  runbooks of the newest release that lists the alert;
- one `ReleasePage` per release; one `CatalogRow` per slug.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import sitelayout as layout
from verifier.manifest import Manifest, Runbook


@dataclass(frozen=True)
class Provenance:
    """What the signature of a release proves; None on an unsigned preview."""

    version: str
    manifest_digest: str
    identity: str
    issuer: str
    log_index: int
    signed_at: str
    root: str
    dev: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "manifest_digest": self.manifest_digest,
            "identity": self.identity,
            "issuer": self.issuer,
            "log_index": self.log_index,
            "signed_at": self.signed_at,
            "root": self.root,
            "dev": self.dev,
        }


@dataclass(frozen=True)
class ReleaseInput:
    """One release as the site sees it."""

    manifest: Manifest
    manifest_bytes: bytes
    manifest_digest: str
    bundle_bytes: bytes | None
    """None on an unsigned preview."""
    provenance: Provenance | None
    sources: Path
    """The folder of the frozen sources, ``<release>/runbooks`` (the working tree for previews)."""

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def unsigned(self) -> bool:
        """True for a preview built from the working tree."""
        return self.provenance is None

    def source_path(self, runbook: Runbook) -> Path:
        """The frozen source of ``runbook`` in this release."""
        return self.sources / f"{runbook.slug}.md"

    def facts(self) -> dict[str, Any]:
        """Provenance facts for cache keys and pages."""
        return {
            "version": self.version,
            "manifest_digest": self.manifest_digest,
            "signature": None if self.provenance is None else self.provenance.to_json(),
        }


@dataclass(frozen=True)
class RevisionPage:
    """A runbook revision, rendered once for the release that first signed it."""

    path: str
    runbook: Runbook
    release: ReleaseInput

    @property
    def slug(self) -> str:
        return self.runbook.slug


@dataclass(frozen=True)
class AliasPage:
    """A runbook as of one release: provenance of that release and its pinned commands."""

    path: str
    runbook: Runbook
    release: ReleaseInput
    introduced: str
    """The release that first signed this revision."""
    target: str
    """The revision page."""


@dataclass(frozen=True)
class DiffPage:
    """The change between two consecutive revisions of a runbook."""

    path: str
    old: Runbook
    old_release: ReleaseInput
    new: Runbook
    new_release: ReleaseInput


@dataclass(frozen=True)
class LatestPage:
    """Points at the chain head's revision of a runbook, or says it was retired."""

    path: str
    slug: str
    title: str
    revision: int
    digest: str
    target: str
    """The head revision page, or the last revision page of a retired runbook."""
    retired_in: str | None
    since: str
    """The release that first signed this revision."""


@dataclass(frozen=True)
class AlertTarget:
    """One runbook an alert leads to."""

    slug: str
    title: str
    target: str
    retired_in: str | None


@dataclass(frozen=True)
class AlertPage:
    """A stable URL for one alert name."""

    path: str
    name: str
    targets: tuple[AlertTarget, ...]


@dataclass(frozen=True)
class CatalogRow:
    """One line of the catalog: the runbook at the chain head (or retired)."""

    slug: str
    title: str
    summary: str
    service: str
    severity: str
    tags: tuple[str, ...]
    alerts: tuple[str, ...]
    revision: int
    digest: str
    since: str
    """The release that first signed this revision."""
    target: str
    retired_in: str | None


@dataclass(frozen=True)
class ReleaseChanges:
    """What one release changed relative to its predecessor."""

    added: tuple[str, ...]
    changed: tuple[str, ...]
    retired: tuple[str, ...]
    unchanged: int


@dataclass(frozen=True)
class ReleasePage:
    """One release: provenance, changes and downloads."""

    path: str
    release: ReleaseInput
    changes: ReleaseChanges
    diffs: tuple[tuple[str, str], ...]
    """(slug, diff page) of the runbooks this release changed."""


@dataclass
class SiteModel:
    """Every page of the site, decided from the chain."""

    releases: list[ReleaseInput]
    revisions: list[RevisionPage] = field(default_factory=list)
    aliases: list[AliasPage] = field(default_factory=list)
    diffs: list[DiffPage] = field(default_factory=list)
    latest: list[LatestPage] = field(default_factory=list)
    alerts: list[AlertPage] = field(default_factory=list)
    release_pages: list[ReleasePage] = field(default_factory=list)
    catalog: list[CatalogRow] = field(default_factory=list)
    skipped_alerts: list[str] = field(default_factory=list)
    """Alert names that get no page (unsafe as a file name, or a case-insensitive duplicate)."""

    @property
    def head(self) -> ReleaseInput | None:
        return self.releases[-1] if self.releases else None

    @property
    def dev(self) -> bool:
        return any(r.provenance is not None and r.provenance.dev for r in self.releases)


def build_model(releases: Sequence[ReleaseInput]) -> SiteModel:
    """The page model of ``releases`` (genesis to head)."""
    model = SiteModel(list(releases))
    introduced: dict[tuple[str, int], str] = {}
    last: dict[str, tuple[Runbook, ReleaseInput]] = {}
    previous_slugs: dict[str, Runbook] = {}
    for rel in releases:
        changed_diffs: list[tuple[str, str]] = []
        added, changed = [], []
        for rb in rel.manifest.runbooks:
            key = (rb.slug, rb.revision)
            page = layout.revision_page(rb.slug, rb.revision)
            if key not in introduced:
                introduced[key] = rel.version
                model.revisions.append(RevisionPage(page, rb, rel))
            model.aliases.append(
                AliasPage(layout.alias_page(rel.version, rb.slug), rb, rel, introduced[key], page)
            )
            before = last.get(rb.slug)
            if before is not None and before[0].revision != rb.revision:
                diff = layout.diff_page(rb.slug, before[0].revision, rb.revision)
                if all(d.path != diff for d in model.diffs):
                    model.diffs.append(DiffPage(diff, before[0], before[1], rb, rel))
                changed_diffs.append((rb.slug, diff))
            if rb.slug not in previous_slugs:
                added.append(rb.slug)
            elif previous_slugs[rb.slug].digest != rb.digest:
                changed.append(rb.slug)
            last[rb.slug] = (rb, rel)
        current = {rb.slug: rb for rb in rel.manifest.runbooks}
        gone = tuple(sorted(set(previous_slugs) - set(current)))
        unchanged = len(current) - len(added) - len(changed)
        model.release_pages.append(
            ReleasePage(
                layout.release_page(rel.version),
                rel,
                ReleaseChanges(tuple(added), tuple(changed), gone, unchanged),
                tuple(changed_diffs),
            )
        )
        previous_slugs = current
    _add_latest_and_catalog(model, last, introduced)
    _add_alerts(model)
    return model


def _add_latest_and_catalog(
    model: SiteModel,
    last: dict[str, tuple[Runbook, ReleaseInput]],
    introduced: dict[tuple[str, int], str],
) -> None:
    history = layout.History.of([r.manifest for r in model.releases])
    for slug in sorted(last):
        rb, _rel = last[slug]
        retired_in = history.retired.get(slug)
        target = layout.revision_page(slug, rb.revision)
        since = introduced[(slug, rb.revision)]
        model.latest.append(
            LatestPage(
                layout.latest_page(slug),
                slug,
                rb.title,
                rb.revision,
                rb.digest,
                target,
                retired_in,
                since,
            )
        )
        meta = rb.metadata
        model.catalog.append(
            CatalogRow(
                slug=slug,
                title=rb.title,
                summary=layout.text_value(meta.get("summary")),
                service=layout.text_value(meta.get("service")),
                severity=layout.text_value(meta.get("severity")),
                tags=tuple(layout.text_list(meta.get("tags"))),
                alerts=tuple(layout.alerts_of(rb)),
                revision=rb.revision,
                digest=rb.digest,
                since=since,
                target=target,
                retired_in=retired_in,
            )
        )


def _add_alerts(model: SiteModel) -> None:
    newest: dict[str, tuple[str, list[str]]] = {}
    """lower-cased name -> (name as written, slugs of the newest release listing it)."""
    for rel in model.releases:
        in_release: dict[str, tuple[str, list[str]]] = {}
        for rb in rel.manifest.runbooks:
            for name in layout.alerts_of(rb):
                entry = in_release.setdefault(name.lower(), (name, []))
                if entry[0] != name:
                    model.skipped_alerts.append(name)
                    continue
                entry[1].append(rb.slug)
        newest.update(in_release)
    rows = {row.slug: row for row in model.catalog}
    for _key, (name, slugs) in sorted(newest.items()):
        if not layout.valid_alert(name):
            model.skipped_alerts.append(name)
            continue
        targets = tuple(
            AlertTarget(
                slug,
                rows[slug].title,
                rows[slug].target,
                rows[slug].retired_in,
            )
            for slug in slugs
        )
        model.alerts.append(AlertPage(layout.alert_page(name), name, targets))
    model.skipped_alerts = sorted(set(model.skipped_alerts))
