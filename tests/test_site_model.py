"""The pure page model: revisions, aliases, retired runbooks, diffs, latest, alerts, layout."""

from __future__ import annotations

from pathlib import Path

from builder.site.model import Provenance, ReleaseInput, build_model
from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.manifest import Manifest, Previous, Retired, Runbook, Snippet


def _rb(
    slug: str, revision: int, text: str = "echo hi\n", alerts: list[str] | None = None
) -> Runbook:
    snippet = Snippet("s1", "bash", True, 3, (), digest(text.encode()), text)
    meta = {"alerts": alerts} if alerts else {}
    return Runbook(
        slug,
        slug.title(),
        meta,
        f"runbooks/{slug}.md",
        digest(f"{slug}{revision}".encode()),
        revision,
        (snippet,),
    )


def _rel(
    version: str,
    runbooks: list[Runbook],
    retired: tuple[Retired, ...] = (),
    prev: str | None = None,
) -> ReleaseInput:
    m = Manifest(
        version,
        "2026-01-01T00:00:00Z",
        None,
        Previous(prev, "sha256:" + "0" * 64) if prev else None,
        tuple(runbooks),
        retired,
    )
    prov = Provenance(
        version, "sha256:" + "1" * 64, "me", "iss", 1, "2026-01-01T00:00:00Z", "dev", True
    )
    return ReleaseInput(m, b"{}", "sha256:" + "1" * 64, b"{}", prov, Path("/nonexistent"))


def _chain() -> list[ReleaseInput]:
    return [
        _rel("1", [_rb("a", 1, alerts=["A"]), _rb("b", 1), _rb("c", 1)]),
        _rel(
            "2",
            [_rb("a", 2, "echo new\n", alerts=["A"]), _rb("b", 1)],
            (Retired("c", "C", "1", "sha256:" + "2" * 64),),
            "1",
        ),
        _rel("3", [_rb("a", 1, alerts=["a"]), _rb("b", 1)], (), "2"),
    ]


def test_one_page_per_revision_rendered_for_its_first_release() -> None:
    model = build_model(_chain())
    pages = {(p.slug, p.runbook.revision): p.release.version for p in model.revisions}
    assert pages == {("a", 1): "1", ("b", 1): "1", ("c", 1): "1", ("a", 2): "2"}
    assert {p.path for p in model.revisions} >= {"runbooks/a/r1.html", "runbooks/a/r2.html"}


def test_alias_per_release_and_runbook() -> None:
    model = build_model(_chain())
    aliases = {(a.release.version, a.runbook.slug): (a.introduced, a.target) for a in model.aliases}
    assert len(aliases) == 3 + 2 + 2
    assert aliases[("3", "b")] == ("1", "runbooks/b/r1.html")
    assert aliases[("3", "a")] == ("1", "runbooks/a/r1.html")  # a reverted to its first text


def test_diffs_between_consecutive_revisions_including_a_revert() -> None:
    model = build_model(_chain())
    assert [(d.path, d.new_release.version) for d in model.diffs] == [
        ("runbooks/a/diff-r1-r2.html", "2"),
        ("runbooks/a/diff-r2-r1.html", "3"),
    ]


def test_latest_and_retired() -> None:
    model = build_model(_chain())
    latest = {p.slug: (p.revision, p.retired_in, p.target) for p in model.latest}
    assert latest == {
        "a": (1, None, "runbooks/a/r1.html"),
        "b": (1, None, "runbooks/b/r1.html"),
        "c": (1, "2", "runbooks/c/r1.html"),
    }
    rows = {r.slug: (r.since, r.retired_in) for r in model.catalog}
    assert rows == {"a": ("1", None), "b": ("1", None), "c": ("1", "2")}


def test_release_changes() -> None:
    model = build_model(_chain())
    second = model.release_pages[1].changes
    assert (second.added, second.changed, second.retired, second.unchanged) == (
        (),
        ("a",),
        ("c",),
        1,
    )


def test_alerts_case_insensitive_newest_spelling() -> None:
    model = build_model(_chain())
    assert [(a.path, [t.slug for t in a.targets]) for a in model.alerts] == [
        ("alerts/a.html", ["a"])
    ]


def test_versions_data_maps_every_release_to_a_revision() -> None:
    data = layout.versions_data([r.manifest for r in _chain()])
    assert data["head"] == "3"
    assert data["runbooks"]["a"] == {"revisions": {"1": 1, "2": 2, "3": 1}, "retired": None}
    assert data["runbooks"]["c"] == {"revisions": {"1": 1}, "retired": "2"}
    assert layout.versions_js([r.manifest for r in _chain()]).startswith(
        b"window.SEALBOOK_VERSIONS = {"
    )


def test_run_command_and_relative_urls() -> None:
    s = _rb("db/failover", 1).snippets[0]
    cmd = layout.run_command("db/failover", "1.0", s, "https://runbooks.example.com/x?y&z")
    assert cmd == (
        f"sealbook run db/failover@1.0 s1 --sha256 {s.digest[7:]} --from 'https://runbooks.example.com/x?y&z'"
    )
    assert (
        layout.relative("runbooks/db/failover/r1.html", "assets/versions.js")
        == "../../../assets/versions.js"
    )
    assert layout.root_of("index.html") == ""
