"""A runbook renders as GitHub renders the same file (issue 11), in Chromium from ``file://``.

The catalog in tests/data/commonmark is signed with the dev instance and built like any other:
a console transcript shows its output but copies only its commands; ``<details>`` opens; a
relative image is displayed from the release; a link to ``other.md#section`` lands on the
section; a list indented by two spaces nests; a ``<script>`` inside ``<details>`` never runs
(the watched tab fails the test if ``window.__xss`` is assigned).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import BuiltSite, SitePage, sign_and_build, watched_tab

pytestmark = pytest.mark.browser

CATALOG = Path(__file__).resolve().parent.parent / "data" / "commonmark"
PAGE = "runbooks/ops/restart/r1.html"


@pytest.fixture(scope="module")
def cm_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    return sign_and_build(CATALOG, tmp_path_factory.mktemp("commonmark"), ("1.0",), {})


@pytest.fixture
def tab(chromium: Any, cm_site: BuiltSite) -> Iterator[SitePage]:
    yield from watched_tab(chromium, cm_site)


def test_console_block_shows_output_and_copies_only_commands(tab: SitePage) -> None:
    tab.open(PAGE)
    figure = tab.page.locator("figure.sb-snippet[data-snippet-id=restart]")
    shown = figure.locator("pre.sb-code").inner_text()
    assert "$ systemctl restart app" in shown and "active" in shown.splitlines()
    output = figure.locator("pre.sb-code .sb-out")
    assert output.count() == 1 and output.inner_text() == "active"
    dimmed = float(output.evaluate("el => getComputedStyle(el).opacity"))
    assert dimmed < 1.0
    copied = tab.copied(figure.locator("button.sb-copy"))
    assert copied == "systemctl restart app\nsystemctl is-active app"


def test_details_open_and_script_inside_never_runs(tab: SitePage) -> None:
    tab.open(PAGE)
    details = tab.page.locator("details", has_text="Why restart?")
    assert details.count() == 1 and details.get_attribute("open") is None
    details.locator("summary").click()
    assert details.get_attribute("open") is not None
    assert details.locator("kbd").count() == 2
    assert "The cache fills up." in details.inner_text()
    assert tab.page.evaluate("typeof window.__xss") == "undefined"


def test_relative_image_is_displayed_from_the_release(tab: SitePage) -> None:
    tab.open(PAGE)
    image = tab.page.locator("img[alt='error panel']")
    assert image.count() == 1
    src = image.evaluate("el => el.src")
    assert tab.site.path_of(src) == "releases/1.0/runbooks/ops/img/panel.png"
    assert image.evaluate("el => el.complete && el.naturalWidth") == 40


def test_link_to_another_runbooks_section_lands_on_the_section(tab: SitePage) -> None:
    tab.open(PAGE)
    tab.page.locator("a", has_text="the cache section").click()
    tab.page.wait_for_url("**/runbooks/ops/other/r1.html#the-cache-section")
    assert tab.current() == "runbooks/ops/other/r1.html"
    tab.page.wait_for_load_state("load")
    heading = tab.page.locator("#the-cache-section")
    assert heading.count() == 1
    tab.page.wait_for_function(
        "() => { const r = document.getElementById('the-cache-section').getBoundingClientRect();"
        " return window.scrollY > 0 && r.top >= 0 && r.bottom <= innerHeight; }"
    )  # scrolled to the section, which starts well below the first screen


def test_two_space_nested_list_renders_nested(tab: SitePage) -> None:
    tab.open(PAGE)
    nested = tab.page.locator("li:has-text('Check the pods') > ul > li")
    assert nested.all_inner_texts() == ["nested two spaces deep", "another nested item"]
