"""Code like Material (issue 12, "Deliver 4"), on the demo site in Chromium.

Highlighted code shows exactly the signed text (token spans around it); a copy says
"Copied" on the button and in a live region; copy buttons are at least 44 px on a phone;
long lines scroll inside their block; a pinned command never breaks inside its hash.
Expected text comes from the signed manifests, never from the HTML under test.
"""

from __future__ import annotations

import pytest

from tests.browser.harness import CONSOLE, SitePage
from verifier import sitelayout as layout

pytestmark = pytest.mark.browser

SLUG = "hosts/disk-full"


def _open_head(tab: SitePage, slug: str = SLUG) -> None:
    rb = tab.site.runbook(tab.site.head, slug)
    tab.open(layout.revision_page(slug, rb["revision"]))


def test_highlighted_code_is_the_signed_text_with_token_spans(demo_page: SitePage) -> None:
    """Every non-console snippet of every head runbook: the code's text is the signed text;
    shell snippets carry Pygments token spans."""
    site, bad, spans = demo_page.site, [], 0
    for rb in site.manifest(site.head)["runbooks"]:
        demo_page.open(layout.revision_page(rb["slug"], rb["revision"]))
        shown = demo_page.page.locator("figure.sb-snippet pre.sb-code > code").evaluate_all(
            "(cs) => cs.map((c) => [c.textContent, c.querySelectorAll('span[class]').length])"
        )
        for snippet, (text, count) in zip(rb["snippets"], shown, strict=True):
            if snippet["language"] in CONSOLE:
                continue
            if text != snippet["text"]:
                bad.append(f"{rb['slug']}#{snippet['id']}: shows {text!r}")
            if snippet["language"] == "bash":
                spans += count
                if not count:
                    bad.append(f"{rb['slug']}#{snippet['id']}: bash without token spans")
    assert not bad, "\n".join(bad)
    assert spans > 100


def test_copy_says_copied_on_the_button_and_to_screen_readers(demo_page: SitePage) -> None:
    """The clicked button reads "Copied" for a while, then its label again; the page's polite
    live region announces what was copied."""
    _open_head(demo_page)
    figure = demo_page.page.locator("figure.sb-snippet").first
    sid = figure.get_attribute("data-snippet-id")
    region = demo_page.page.locator("[aria-live=polite][role=status]")
    assert region.count() == 1
    button = figure.locator("button.sb-copy")
    demo_page.copied(button)
    assert button.text_content() == "Copied"
    assert "sb-copied" in (button.get_attribute("class") or "")
    assert region.text_content() == f"Copied {sid}."
    run = figure.locator("button.sb-copy-run")
    demo_page.copied(run)
    assert run.text_content() == "Copied"
    assert region.text_content() == f"Copied the command of {sid}."
    demo_page.page.wait_for_function(
        "(b) => b.textContent === 'Copy'", arg=button.element_handle(), timeout=4_000
    )
    assert button.get_attribute("aria-label") == "Copy"


def test_phone_touch_targets_and_long_lines(demo_page: SitePage) -> None:
    """At 390x844: every copy button is at least 44x44 px; code wider than its block scrolls
    inside it (the page does not); each part of a pinned command is one line."""
    demo_page.page.set_viewport_size({"width": 390, "height": 844})
    _open_head(demo_page)
    sizes = demo_page.page.locator("button.sb-copy, button.sb-copy-run").evaluate_all(
        "(bs) => bs.map((b) => [b.getBoundingClientRect().width, b.getBoundingClientRect().height])"
    )
    assert sizes and all(w >= 44 and h >= 44 for w, h in sizes), sizes
    blocks = demo_page.page.locator("pre.sb-code > code, code.sb-run").evaluate_all(
        """(cs) => cs.map((c) => [c.scrollWidth > c.clientWidth,
                                   getComputedStyle(c).overflowX,
                                   c.getBoundingClientRect().right])"""
    )
    assert any(wide for wide, _, _ in blocks), "no block wider than a phone: nothing checked"
    assert all(flow in ("auto", "scroll") for wide, flow, _ in blocks if wide), blocks
    assert all(right <= 390 for _, _, right in blocks), blocks
    assert demo_page.page.evaluate("document.documentElement.scrollWidth") <= 390


@pytest.mark.parametrize("width", [1366, 390])
def test_a_pinned_command_never_breaks_inside_its_hash(demo_page: SitePage, width: int) -> None:
    """Every pinned command: the part ``--sha256 <hex>`` is laid out on one line."""
    demo_page.page.set_viewport_size({"width": width, "height": 800})
    _open_head(demo_page)
    parts = demo_page.page.locator("code.sb-run > span.sb-run-part").evaluate_all(
        "(ps) => ps.map((p) => [p.textContent, p.getClientRects().length])"
    )
    hashes = [(text, lines) for text, lines in parts if text.startswith("--sha256 ")]
    assert hashes and all(lines == 1 for _, lines in hashes), hashes
