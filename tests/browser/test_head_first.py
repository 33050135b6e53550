"""Head first (issue 12, "Deliver 1"): every way to "the runbook now" lands on the head
release's view, its commands pinned to the head; older views say a newer text exists.

Expected commands are built from the signed manifests (``releases/<version>/manifest.json``),
never from the HTML under test.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget
from tests.browser.harness import BuiltSite, SitePage, run_command, watched_tab
from tests.conftest import REPO, run_cli
from verifier import sitelayout as layout

pytestmark = pytest.mark.browser


def _unchanged(site: BuiltSite) -> tuple[dict[str, Any], str]:
    """A runbook the head signed unchanged since the first release, and an alert naming only it."""
    owners: dict[str, list[str]] = {}
    for rb in site.manifest(site.head)["runbooks"]:
        for alert in rb["metadata"].get("alerts", []):
            owners.setdefault(alert, []).append(rb["slug"])
    for rb in site.manifest(site.head)["runbooks"]:
        first = site.runbook(site.versions[0], rb["slug"])
        alerts = [a for a in rb["metadata"].get("alerts", []) if owners[a] == [rb["slug"]]]
        executable = [s for s in rb["snippets"] if s["executable"]]
        if first["digest"] == rb["digest"] and alerts and executable:
            return rb, alerts[0]
    raise AssertionError("the demo has no runbook unchanged since its first release")


def _first_command(tab: SitePage) -> str:
    return tab.copied(tab.page.locator("button.sb-copy-run").first)


def _arrive(tab: SitePage, how: str, rb: dict[str, Any], alert: str) -> None:
    target = layout.revision_page(rb["slug"], rb["revision"])
    if how == "catalog":
        tab.open("index.html")
        with tab.page.expect_navigation():
            tab.page.locator(
                f'tr.sb-catalog-row[data-slug="{rb["slug"]}"] a.sb-latest-link'
            ).click()
    elif how == "alert":
        tab.open(layout.alert_page(alert))
        tab.page.wait_for_url(lambda url: tab.site.path_of(url) == target)
    elif how == "latest":
        tab.open(layout.latest_page(rb["slug"]))
        tab.page.wait_for_url(lambda url: tab.site.path_of(url) == target)
    else:
        tab.open("index.html")
        box = tab.page.locator("input[data-md-component=search-query]")
        box.click()
        box.press_sequentially(alert, delay=5)
        result = tab.page.locator("a.md-search-result__link").filter(has_text=rb["title"])
        result.first.wait_for(state="visible", timeout=5_000)
        with tab.page.expect_navigation():
            result.first.click()
    tab.page.wait_for_load_state("load")
    assert tab.current() == target


@pytest.mark.parametrize("how", ["catalog", "alert", "latest", "search"])
def test_the_runbook_now_is_pinned_to_the_head(demo_page: SitePage, how: str) -> None:
    """From the catalog, an alert page, ``latest`` and search: the first Copy command yields a
    command pinned to the head release, on a runbook whose text the first release signed."""
    site = demo_page.site
    rb, alert = _unchanged(site)
    _arrive(demo_page, how, rb, alert)
    first = next(s for s in rb["snippets"] if s["executable"])
    assert _first_command(demo_page) == run_command(rb["slug"], site.head, first)
    note = demo_page.page.locator(".sb-version-note").text_content() or ""
    assert f"Latest release {site.head}" in note, note
    assert f"unchanged since {site.versions[0]}" in note, note
    select = demo_page.page.locator("select.sb-version-select")
    assert select.evaluate("(s) => s.options[s.selectedIndex].textContent").startswith(site.head)


def _note(tab: SitePage, path: str) -> str:
    tab.page.goto(
        tab.site.url(path.split("?")[0]) + ("?" + path.split("?")[1] if "?" in path else "")
    )
    tab.page.wait_for_load_state("load")
    notes = tab.page.locator(".sb-version-note")
    assert notes.count() == 1, f"{path}: {notes.count()} version notes"
    assert "sb-warn" in (notes.get_attribute("class") or ""), f"{path}: the note is not a warning"
    return notes.text_content() or ""


def test_older_views_say_a_newer_text_exists(demo_page: SitePage) -> None:
    """An older release's view says so on every page kind that shows one: revision, alias
    (changed or not since) and release pages; its commands stay pinned to that release."""
    site = demo_page.site
    old, head = site.versions[0], site.head
    changed = "hosts/disk-full"
    rb, _alert = _unchanged(site)
    assert site.runbook(old, changed)["revision"] != site.runbook(head, changed)["revision"]
    newer = f"A newer text is in the latest release {head}"
    assert newer in _note(demo_page, layout.revision_page(changed, 1))
    assert newer in _note(demo_page, layout.alias_page(old, changed))
    same = f"Release {old} is not the latest. The latest release {head} holds the same text"
    assert same in _note(demo_page, layout.alias_page(old, rb["slug"]))
    assert same in _note(
        demo_page, f"{layout.revision_page(rb['slug'], rb['revision'])}?release={old}"
    )
    first = next(s for s in site.runbook(old, rb["slug"])["snippets"] if s["executable"])
    assert _first_command(demo_page) == run_command(rb["slug"], old, first)
    assert f"A newer release exists: {head}" in _note(demo_page, layout.release_page(old))
    # The head's own pages carry no warning.
    demo_page.open(layout.release_page(head))
    assert demo_page.page.locator(".sb-version-note").count() == 0
    demo_page.open(layout.alias_page(head, changed))
    assert "sb-warn" not in (
        demo_page.page.locator(".sb-version-note").get_attribute("class") or ""
    )


RETIRED = "dns/resolution-failures"


@pytest.fixture(scope="module")
def retired_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The sample catalog released twice, ``RETIRED`` removed before the second release."""
    root = tmp_path_factory.mktemp("retired")
    catalog = root / "runbooks"
    shutil.copytree(REPO / "runbooks", catalog)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    make_release(load_catalog(catalog), "r.1", root / "releases", target)
    (catalog / f"{RETIRED}.md").unlink()
    make_release(load_catalog(catalog), "r.2", root / "releases", target)
    policy = root / "dev" / "sealbook.dev.toml"
    out = root / "site"
    args = ("--releases", str(root / "releases"), "--out", str(out), "--policy", str(policy))
    built = run_cli("sealbook", "build", *args)
    assert built.returncode == 0, built.stderr
    return BuiltSite(out.resolve(), root / "releases", ("r.1", "r.2"))


def test_a_retired_runbook_says_so_on_every_view(chromium: Any, retired_site: BuiltSite) -> None:
    """Retired in the head: its revision page (even asked for the old release), its alias
    page and its latest page say it was retired; its last text keeps its own pins."""
    for tab in watched_tab(chromium, retired_site):
        revision = retired_site.runbook("r.1", RETIRED)["revision"]
        for path in (
            layout.revision_page(RETIRED, revision),
            f"{layout.revision_page(RETIRED, revision)}?release=r.1",
            layout.alias_page("r.1", RETIRED),
        ):
            assert "retired in release r.2" in _note(tab, path), path
        first = next(s for s in retired_site.runbook("r.1", RETIRED)["snippets"] if s["executable"])
        assert _first_command(tab) == run_command(RETIRED, "r.1", first)
        tab.open(layout.latest_page(RETIRED))
        warn = tab.page.locator(".sb-page--latest .sb-warn").text_content() or ""
        assert "Retired in release r.2" in warn
