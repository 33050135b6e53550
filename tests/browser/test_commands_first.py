"""Commands first (issue 12, "Deliver 3"): a one-line provenance summary that opens the full
panel, the page's commands at its top; the first Copy command button within the first screen
at 1366x768 and within 1.5 screens at 390x844, on the head view of every live runbook.

Expected commands come from the signed manifests, never from the HTML under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.harness import SitePage, run_command
from verifier import sitelayout as layout

pytestmark = pytest.mark.browser

SCREENS = {(1366, 768): 1.0, (390, 844): 1.5}


@pytest.fixture(params=sorted(SCREENS), ids=lambda size: f"{size[0]}x{size[1]}")
def sized_page(demo_page: SitePage, request: pytest.FixtureRequest) -> Iterator[SitePage]:
    width, height = request.param
    demo_page.page.set_viewport_size({"width": width, "height": height})
    yield demo_page


def _bottom(tab: SitePage, selector: str) -> float:
    return float(
        tab.page.locator(selector).first.evaluate(
            "(e) => e.getBoundingClientRect().bottom + window.scrollY"
        )
    )


def test_the_first_copy_command_is_near_the_top(sized_page: SitePage) -> None:
    """Every live runbook, arriving from ``latest``: the first Copy command button ends within
    the first screen (laptop) or 1.5 screens (phone), and copies the head-pinned command of
    the runbook's first executable snippet."""
    tab, site = sized_page, sized_page.site
    size = tab.page.viewport_size
    assert size is not None
    limit = SCREENS[(size["width"], size["height"])] * size["height"]
    far = []
    for rb in site.manifest(site.head)["runbooks"]:
        executable = [s for s in rb["snippets"] if s["executable"]]
        if not executable:
            continue
        tab.open(layout.latest_page(rb["slug"]))
        tab.page.wait_for_url(
            lambda url, rb=rb: (
                tab.site.path_of(url) == layout.revision_page(rb["slug"], rb["revision"])
            )
        )
        bottom = _bottom(tab, "button.sb-copy-run")
        if bottom > limit:
            far.append(f"{rb['slug']}: first Copy command ends at {bottom:.0f} px > {limit:.0f}")
        first = tab.page.locator("button.sb-copy-run").first
        assert tab.copied(first) == run_command(rb["slug"], site.head, executable[0])
    assert not far, "\n".join(far)


def test_the_commands_at_the_top_are_the_snippets_commands(demo_page: SitePage) -> None:
    """Each command at the top names an executable snippet in order and copies exactly its
    pinned command; the snippet link leads to the snippet's figure."""
    site = demo_page.site
    rb = site.runbook(site.head, "postgres/failover")
    demo_page.open(layout.latest_page(rb["slug"]))
    demo_page.page.wait_for_url("**/r*.html")
    quick = demo_page.page.locator("section.sb-commands figure.sb-quick")
    executable = [s for s in rb["snippets"] if s["executable"]]
    assert quick.evaluate_all("(fs) => fs.map((f) => f.dataset.snippetId)") == [
        s["id"] for s in executable
    ]
    for i, snippet in enumerate(executable):
        expected = run_command(rb["slug"], site.head, snippet)
        assert demo_page.copied(quick.nth(i).locator("button.sb-copy-run")) == expected
        href = quick.nth(i).locator("a.sb-quick-id").get_attribute("href")
        assert href == f"#snippet-{snippet['id']}"
        target = demo_page.page.locator(f'figure.sb-snippet[id="snippet-{snippet["id"]}"]')
        assert target.count() == 1


def _summary(tab: SitePage) -> Any:
    return tab.page.locator("details.sb-provenance-box > summary.sb-provenance-summary").first


@pytest.mark.parametrize("kind", ["revision", "alias", "release"])
def test_provenance_is_one_line_that_opens_the_full_panel(demo_page: SitePage, kind: str) -> None:
    """Signer, release and DEV on one line; the full panel (digests, log index, root) opens
    from it, closed by default."""
    site = demo_page.site
    slug = "postgres/failover"
    path = {
        "revision": layout.revision_page(slug, site.runbook(site.head, slug)["revision"]),
        "alias": layout.alias_page(site.head, slug),
        "release": layout.release_page(site.head),
    }[kind]
    demo_page.open(path)
    summary = _summary(demo_page)
    text = summary.text_content() or ""
    release = site.versions[0] if kind == "revision" else site.head
    for needed in ("Signed by dev@sealbook.invalid", f"release {release}", "DEV"):
        assert needed in text, f"{path}: {text!r} lacks {needed!r}"
    panel = demo_page.page.locator("aside.sb-provenance").first
    assert summary.evaluate("(s) => s.getBoundingClientRect().height") < 60
    assert not panel.is_visible()
    summary.click()
    assert panel.is_visible()
    assert panel.locator("code.sb-manifest-digest").is_visible()
