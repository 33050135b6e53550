"""Finding (issue 12, "Deliver 7"): the catalog's filter shows a count and "nothing matches",
and keeps its state in the URL so Back restores it. Expected rows come from the signed head
manifest, never from the HTML under test.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.harness import BuiltSite, SitePage

pytestmark = pytest.mark.browser


def _matching(site: BuiltSite, text: str = "", service: str = "") -> set[str]:
    found = set()
    for rb in site.manifest(site.head)["runbooks"]:
        meta: dict[str, Any] = rb["metadata"]
        words = " ".join(
            [rb["slug"], rb["title"], str(meta.get("summary", "")), str(meta.get("service", ""))]
            + [str(meta.get("severity", ""))]
            + [str(t) for t in meta.get("tags", [])]
            + [str(a) for a in meta.get("alerts", [])]
        ).lower()
        if text.lower() in words and (not service or meta.get("service") == service):
            found.add(rb["slug"])
    return found


def _shown(tab: SitePage) -> set[str]:
    rows = tab.page.locator("tr.sb-catalog-row").evaluate_all(
        "(rs) => rs.filter((r) => !r.hidden && r.offsetParent !== null).map((r) => r.dataset.slug)"
    )
    return set(rows)


def _count(tab: SitePage) -> str:
    return (tab.page.locator("[data-sb-count]").text_content() or "").strip()


def test_filter_counts_says_nothing_matches_and_survives_back(demo_page: SitePage) -> None:
    site = demo_page.site
    total = len(site.manifest(site.head)["runbooks"])
    demo_page.open("index.html")
    box = demo_page.page.locator("input[data-sb-filter=text]")
    assert box.evaluate("(b) => getComputedStyle(b).borderTopStyle") != "none"
    assert _count(demo_page) == f"{total} of {total} runbooks"
    assert not demo_page.page.locator(".sb-nothing").is_visible()

    box.fill("postgres")
    wanted = _matching(site, "postgres")
    assert 0 < len(wanted) < total
    assert _shown(demo_page) == wanted
    assert _count(demo_page) == f"{len(wanted)} of {total} runbooks"
    assert "filter=postgres" in demo_page.page.url

    box.fill("")
    demo_page.page.locator("select[data-sb-filter=service]").select_option("postgres")
    wanted = _matching(site, service="postgres")
    assert _shown(demo_page) == wanted
    assert "service=postgres" in demo_page.page.url

    # Follow a runbook and come back: the filter, the rows and the count are as they were.
    slug = sorted(wanted)[0]
    with demo_page.page.expect_navigation():
        demo_page.page.locator(f'tr[data-slug="{slug}"] a.sb-latest-link').click()
    demo_page.page.go_back(wait_until="load")
    assert demo_page.page.locator("select[data-sb-filter=service]").input_value() == "postgres"
    assert _shown(demo_page) == wanted
    assert _count(demo_page) == f"{len(wanted)} of {total} runbooks"

    box.fill("no-such-runbook-zzz")
    assert _shown(demo_page) == set()
    assert _count(demo_page) == f"0 of {total} runbooks"
    assert demo_page.page.locator(".sb-nothing").is_visible()


def test_a_filter_in_the_url_applies_on_arrival(demo_page: SitePage) -> None:
    """A catalog URL with ?filter= (a bookmark, a link shared in the incident channel) opens
    filtered, the box showing the text."""
    site = demo_page.site
    demo_page.page.goto(site.url("index.html") + "?filter=kafka")
    demo_page.page.wait_for_load_state("load")
    assert demo_page.page.locator("input[data-sb-filter=text]").input_value() == "kafka"
    assert _shown(demo_page) == _matching(site, "kafka")
    # Not material's own ?q=, which would open the search overlay over the catalog.
    assert not demo_page.page.locator("[data-md-toggle=search]").is_checked()
