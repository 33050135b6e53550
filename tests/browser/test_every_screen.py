"""Every screen (issue 12, "Deliver 5"), on the demo site in Chromium from ``file://``.

No page kind is wider than a 390 px (or 360 px) phone; dark mode follows the system, can be
toggled and survives a reload, under the site's Content-Security-Policy (a refused script or
style is a console error, which fails the watched tab); print shows no navigation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.harness import SitePage
from tests.browser.test_site_browser import page_kind
from verifier import sitelayout as layout

pytestmark = pytest.mark.browser

KEY = "sealbook.scheme"


@pytest.fixture
def tab(demo_page: SitePage) -> Iterator[SitePage]:
    """A tab whose stored colour scheme is forgotten afterwards (the profile is shared)."""
    yield demo_page
    demo_page.page.emulate_media(color_scheme="light", media="screen")
    demo_page.page.evaluate(f"localStorage.removeItem({KEY!r})")


@pytest.mark.parametrize("width", [390, 360])
def test_no_page_kind_overflows_a_phone(tab: SitePage, width: int) -> None:
    """Two pages of every kind (after scripts and redirects): the document is no wider than
    the screen."""
    site = tab.site
    kinds: dict[str, list[str]] = {}
    for path in site.pages():
        kinds.setdefault(page_kind(path), []).append(path)
    assert len(kinds) >= 9, sorted(kinds)
    tab.page.set_viewport_size({"width": width, "height": 844})
    wide = []
    for kind, paths in sorted(kinds.items()):
        for path in paths[:2]:
            tab.open(path)
            scroll = _width(tab)
            if scroll > width:
                wide.append(f"{kind}: {tab.current()} is {scroll} px wide")
    assert not wide, "\n".join(wide)


def _width(tab: SitePage) -> int:
    """The document's width once the page has settled (a meta refresh may move on first)."""
    from playwright.sync_api import Error

    for _ in range(5):
        tab.page.wait_for_timeout(100)
        tab.page.wait_for_load_state("load")
        try:
            return int(tab.page.evaluate("document.documentElement.scrollWidth"))
        except Error:  # the page navigated away during the measure: measure where it went
            continue
    raise AssertionError(f"{tab.page.url} never settled")


def _scheme(tab: SitePage) -> str:
    return str(tab.page.evaluate("document.body.getAttribute('data-md-color-scheme')"))


@pytest.mark.parametrize(
    "path",
    [layout.revision_page("hosts/disk-full", 2), layout.alias_page("2026.11.1", "hosts/disk-full")],
)
def test_dark_mode_follows_the_system_toggles_and_survives_a_reload(
    tab: SitePage, path: str
) -> None:
    """System dark: the page is dark; the toggle makes it light; a reload and another page
    keep the choice; the background colour really changes."""
    tab.page.emulate_media(color_scheme="dark")
    tab.open(path)
    assert _scheme(tab) == "slate"
    dark_bg = tab.page.evaluate("getComputedStyle(document.body).backgroundColor")
    toggle = tab.page.locator("button.sb-scheme-toggle")
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert _scheme(tab) == "default"
    assert toggle.get_attribute("aria-pressed") == "false"
    assert tab.page.evaluate("getComputedStyle(document.body).backgroundColor") != dark_bg
    tab.page.reload(wait_until="load")
    assert _scheme(tab) == "default", "the choice did not survive a reload"
    tab.open("index.html")
    assert _scheme(tab) == "default"
    tab.page.locator("button.sb-scheme-toggle").click()
    tab.page.emulate_media(color_scheme="light")
    tab.page.reload(wait_until="load")
    assert _scheme(tab) == "slate", "the stored choice must win over the system's"


def test_print_hides_the_navigation_and_keeps_the_commands(tab: SitePage) -> None:
    """Print emulation: header, sidebars, search and buttons hidden; the snippets, their
    digests and pinned commands, and the provenance summary printed."""
    tab.open(layout.revision_page("hosts/disk-full", 2))
    tab.page.emulate_media(media="print")
    for hidden in (".md-header", ".md-sidebar--primary", "button.sb-copy", "button.sb-copy-run"):
        assert not tab.page.locator(hidden).first.is_visible(), f"{hidden} prints"
    snippet = "figure.sb-snippet"
    for shown in (f"{snippet} pre.sb-code", "code.sb-snippet-digest", f"{snippet} code.sb-run"):
        assert tab.page.locator(shown).first.is_visible(), f"{shown} does not print"
    assert tab.page.locator("summary.sb-provenance-summary").is_visible()
