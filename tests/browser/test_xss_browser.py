"""The XSS corpus (tests/data/xss) in headless Chromium: no payload runs, none is live in HTML.

The hostile catalog is signed with the dev instance and built by ``sealbook build`` like
any other. Every payload tries to assign ``window.__xss`` or call ``alert``: the watched tab
(`tests.browser.harness`) reports an assignment through an exposed function the moment it happens,
a dialog, a console error (a Content-Security-Policy refusal means a payload reached the
page as markup: that fails too) or a request leaving the site.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.browser.harness import XSS_CATALOG, BuiltSite, SitePage, check_snippets, scan
from tests.conftest import run_cli

pytestmark = pytest.mark.browser

REFUSED = XSS_CATALOG.parent / "refused"

# Every element a user could click. Links that load a document (this one again included)
# are left out: that page is checked on its own turn. What is clicked runs in this page:
# buttons, toggles, in-page anchors, and any link whose URL is not a plain document
# (javascript:, data:, ... if the sanitizer ever let one through).
CLICKABLES_JS = """() => {
  const here = location.href.split("#")[0];
  const found = [];
  document.querySelectorAll(
    "a, button, summary, details, label, input, [onclick], [role=button], [tabindex]"
  ).forEach((el, i) => {
    let settle = false;
    if (el.tagName === "A" && el.hasAttribute("href")) {
      const url = new URL(el.href, location.href);
      const document = ["file:", "http:", "https:", "mailto:"].includes(url.protocol);
      const inPage = url.hash !== "" && url.href.split("#")[0] === here;
      if (document && !inPage) return;
      settle = !document;
    }
    el.setAttribute("data-sb-probe", String(i));
    const box = el.getBoundingClientRect();
    found.push({ probe: String(i), what: el.outerHTML.slice(0, 120), settle: settle,
                 mouse: box.width > 0 && box.height > 0 && !!el.closest("article, main") });
  });
  return found;
}"""
# The theme's chrome (header, drawers, navigation) is the same on every page: a scripted
# click is enough there. What the runbook put on the page gets a real mouse click.
CLICK_JS = """(probe) => document.querySelector(`[data-sb-probe="${probe}"]`).click()"""


def test_built_html_carries_no_live_payload(xss_site: BuiltSite) -> None:
    """Every page and the search index: no inline script, handler, script URL or frame."""
    problems: list[str] = []
    texts: dict[str, str] = {}
    pages = xss_site.pages()
    assert len(pages) > 20
    for page in pages:
        parser = scan(xss_site, page, (xss_site.root / page).read_text(encoding="utf-8"))
        problems += parser.problems
        texts[page] = "".join(parser.text)
    # Material inserts search results as HTML: the index's title and text must be inert too.
    index = json.loads((xss_site.root / "search" / "search_index.json").read_bytes())
    for doc in index["docs"]:
        for key in ("title", "text"):
            problems += scan(xss_site, f"search index {doc['location']} {key}", doc[key]).problems
    assert not problems, "\n".join(problems)
    # The payloads reached the pages, as text: the test above was not vacuous.
    shown = {
        "runbooks/xss/front-matter/r1.html": [
            '"><script>window.__xss=1</script><img src=x onerror=alert(1)>',
            "<img src=x onerror=alert(2)> summary",
            '"><svg onload=alert(4)>',
            "<details open ontoggle=alert(7)>",
        ],
        "runbooks/xss/snippets/r1.html": ["echo '<script>window.__xss=1</script>'"],
        "index.html": ['"><script>window.__xss=1</script><img src=x onerror=alert(1)>'],
    }
    for page, needles in shown.items():
        for needle in needles:
            assert needle in texts[page], f"{page} does not show {needle!r} as text"
    # Raw HTML in prose goes through the allow-list sanitizer: the payloads are gone, the
    # pages' other text is there.
    removed = {
        "runbooks/xss/raw-html/r1.html": ["window.__xss = 1", "parent.__xss=1"],
    }
    for page, needles in removed.items():
        assert texts[page].strip(), f"{page} shows no text"
        for needle in needles:
            assert needle not in texts[page], f"{page} still shows {needle!r}"


def test_every_page_runs_no_payload(xss_page: SitePage) -> None:
    """Load every page, click everything that does not leave the page, search: nothing runs."""
    site = xss_page.site
    page = xss_page.page
    clicked = 0
    for path in site.pages():
        markup = (site.root / path).read_text(encoding="utf-8")
        if re.search(r"<meta http-equiv=.refresh", markup, re.IGNORECASE):
            # A pointer page (latest, alert): it moves on by itself; its target is loaded
            # and clicked through on its own turn. Let it land before the next page.
            xss_page.open(path)
            page.wait_for_url(lambda url, here=path: site.path_of(url) != here)
            continue
        xss_page.open(path)
        assert page.evaluate("typeof window.__xss") == "undefined", path
        for target in page.evaluate(CLICKABLES_JS):
            try:
                if target["mouse"]:
                    page.locator(f'[data-sb-probe="{target["probe"]}"]').click(
                        force=True, no_wait_after=True, timeout=1_000
                    )
                else:
                    page.evaluate(CLICK_JS, target["probe"])
            except Exception as exc:
                raise AssertionError(f"{path}: clicking {target['what']}: {exc}") from exc
            if target["settle"]:
                # A javascript:/data: URL runs (or is refused, with a console error) in a
                # later task; the next click or page load would cancel it unseen.
                page.wait_for_timeout(200)
            clicked += 1
            if site.path_of(page.url) != path:
                raise AssertionError(f"{path}: clicking {target['what']} left for {page.url}")
        page.keyboard.press("Escape")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert not xss_page.watch.problems(), "\n".join(xss_page.watch.problems())
    assert clicked > 100


def test_search_results_run_no_payload(xss_page: SitePage) -> None:
    """Material renders search results as HTML from the index: titles, text and tags inert."""
    xss_page.open("index.html")
    box = xss_page.page.locator("input[data-md-component=search-query]")
    results = xss_page.page.locator("[data-md-component=search-result] .md-search-result__item")
    shown = ""
    for query in ("xss", "script", "onerror", "open", "XssPayloadAlert", "toml"):
        box.click()
        box.fill("")
        box.press_sequentially(query, delay=5)
        results.first.wait_for(state="visible")
        xss_page.page.wait_for_timeout(100)
        live = xss_page.page.locator(
            ".md-search-result :is(img, svg:not(.md-icon svg), script, iframe, details, a[href^=javascript])"
        )
        assert live.count() == 0, f"{query}: {live.first.evaluate('(e) => e.outerHTML')}"
        assert xss_page.page.evaluate("typeof window.__xss") == "undefined", query
        shown += xss_page.page.locator(".md-search-result").text_content() or ""
    # The payloads are in the results, as text: titles, text and tags (alerts).
    for needle in (
        "<script>window.__xss=1</script>",
        "<img src=x onerror=alert(9)>",
        "<style>@import",
    ):
        assert needle in shown, needle


def test_hostile_query_strings_run_no_payload(xss_page: SitePage) -> None:
    """The page scripts read ?release= (switcher) and ?h= (material's highlight): both inert."""
    site = xss_page.site
    payload = quote("<img src=x onerror=alert(90)><script>window.__xss=1</script>", safe="")
    for path in ("runbooks/xss/front-matter/r1.html", "versions/xss.1/runbooks/xss/markdown.html"):
        url = f"{site.url(path)}?release={payload}&h={payload}#{payload}"
        xss_page.page.goto(url, wait_until="load")
        xss_page.page.wait_for_timeout(100)
        assert xss_page.page.evaluate("typeof window.__xss") == "undefined", path


def test_hostile_snippets_copy_exactly(xss_page: SitePage) -> None:
    """HTML-special bytes in code survive escaping: each copy equals the signed text."""
    site = xss_page.site
    rb = site.runbook(site.head, "xss/snippets")
    xss_page.open(f"runbooks/xss/snippets/r{rb['revision']}.html")
    release = xss_page.page.locator(".sb-page").get_attribute("data-release")
    assert release in site.versions
    # Rendered for the release that first signed it; viewed as the runbook now: the head.
    assert site.runbook(release, "xss/snippets")["digest"] == rb["digest"]
    checked, bad = check_snippets(xss_page, "xss/snippets", site.head)
    assert not bad, "\n".join(bad)
    assert checked == len(rb["snippets"]) == 6


def test_hostile_site_verifies(xss_site: BuiltSite) -> None:
    """`sealbook-verify site` accepts the hostile catalog's site: escaping changed no byte."""
    dev = xss_site.releases.parent / "dev" / "sealbook.dev.toml"
    result = run_cli(
        "sealbook-verify", "site", str(xss_site.root), "--releases", str(xss_site.releases),
        "--policy", str(dev),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def test_payload_ids_are_refused_by_check(tmp_path: Path) -> None:
    """Snippet ids cannot carry payloads: `sealbook check` refuses them. A language word outside
    the safe set is a warning (the block is a reference block; the word is escaped)."""
    result = run_cli("sealbook", "check", "--runbooks", str(REFUSED))
    assert result.returncode == 1, result.stdout + result.stderr
    for name, code, severity in (
        ("bad-id.md", "id", "error"),
        ("runme-id.md", "id", "error"),
        ("language.md", "language", "warning"),
    ):
        assert re.search(
            rf"{name}:\d+: {severity}: .*\[{code}-invalid\]", result.stdout + result.stderr
        ), result.stdout + result.stderr


def test_the_watch_sees_a_payload_run(xss_page: SitePage) -> None:
    """Control: a live payload on a page without the site's policy is caught by the watch."""
    xss_page.page.set_content(
        "<script>window.__xss = 1</script><img src=x onerror=\"alert('control')\">"
    )
    xss_page.page.wait_for_timeout(200)
    watch = xss_page.watch
    assert watch.xss and watch.dialogs == ["alert: control"]
    assert xss_page.page.evaluate("window.__xss") == 1
    watch.xss.clear()
    watch.dialogs.clear()
    watch.requests.clear()
    watch.console_errors.clear()
