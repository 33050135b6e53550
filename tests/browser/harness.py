"""The browser harness: sites signed and built for the tests, watched Chromium tabs.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (its own browser download
cannot work here). Every tab a test opens is watched from its first request: a request
whose URL is not a ``file://`` path inside the site folder, a console error, an uncaught
page error, a dialog (``alert``/``confirm``/``prompt``) or an assignment to
``window.__xss`` fails the test (the XSS payloads' tells). Copies are observed through the
page's ``copy`` event and ``navigator.clipboard.writeText``: ``file://`` pages get no
clipboard-read permission, so the clipboard itself cannot be read back.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget
from tests.conftest import REPO, run_cli

CHROMIUM = Path("/usr/bin/chromium")
REQUIRE_ENV = "SEALBOOK_REQUIRE_BROWSER"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
XSS_CATALOG = REPO / "tests" / "data" / "xss" / "catalog"
XSS_VERSIONS = ("xss.1", "xss.2")

# Any payload that assigns window.__xss (from this frame or a child frame via parent.__xss)
# is reported to Python at once through an exposed function, so a hit is not lost when the
# page navigates away; the value is kept, so `typeof window.__xss` still tells.
XSS_PROBE = """
(() => {
  let value;
  Object.defineProperty(window, "__xss", {
    configurable: false,
    get: () => value,
    set: (v) => {
      value = v;
      if (typeof window.__sbXssHit === "function") window.__sbXssHit(location.href);
    },
  });
})();
"""

# Observes what a copy hands to the clipboard without reading the clipboard back (file://
# grants no clipboard-read permission): every `copy` event's text/plain data as it leaves
# the page (window, bubbling: after the site's own capturing handler set it), and every
# navigator.clipboard.writeText argument.
CLIPBOARD_PROBE = """
(() => {
  const log = [];
  Object.defineProperty(window, "__sbClipboard", { value: log });
  window.addEventListener("copy", (event) => {
    const data = event.clipboardData ? event.clipboardData.getData("text/plain") : null;
    log.push({ via: "copy-event", text: data, prevented: event.defaultPrevented });
  });
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => {
      log.push({ via: "writeText", text: String(text), prevented: true });
      return write(text).catch(() => undefined);
    };
  }
})();
"""


def require_chromium() -> None:
    """Skip when Debian's Chromium is missing, or fail when CI requires the browser."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}; {REQUIRE_ENV}=1 requires the browser tests to run")
    pytest.skip(message)


@dataclass(frozen=True)
class BuiltSite:
    """A site built by ``sealbook build`` from releases signed by the loopback dev instance."""

    root: Path
    """The site folder, symlinks resolved (the URLs Chromium reports use this path)."""
    releases: Path
    """The signed releases the site was built from (the expected bytes come from here)."""
    versions: tuple[str, ...]
    """Release versions, genesis to head."""

    @property
    def head(self) -> str:
        return self.versions[-1]

    def manifest(self, version: str) -> dict[str, Any]:
        """The signed manifest of ``version``, read from the releases folder (never the HTML)."""
        return _read_manifest(self.releases / version / "manifest.json")

    def runbook(self, version: str, slug: str) -> dict[str, Any]:
        """The manifest entry of ``slug`` in release ``version``."""
        for rb in self.manifest(version)["runbooks"]:
            if rb["slug"] == slug:
                return dict(rb)
        raise KeyError(f"{slug} not in release {version}")

    def url(self, path: str) -> str:
        """The ``file://`` URL of site path ``path``."""
        return (self.root / path).as_uri()

    def path_of(self, url: str) -> str | None:
        """The site path a ``file://`` URL names, or None if it is not inside the site."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return None
        target = Path(os.path.normpath(unquote(parts.path)))
        try:
            return target.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def pages(self) -> list[str]:
        """Every HTML page of the site, as site paths, sorted."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*.html"))


@cache
def _read_manifest(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_bytes())
    assert isinstance(data, dict)
    return data


def _append(catalog: Path, slug: str, text: str) -> None:
    path = catalog / f"{slug}.md"
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def sign_and_build(
    source: Path,
    root: Path,
    versions: tuple[str, ...],
    changes: dict[str, str],
) -> BuiltSite:
    """Sign ``versions`` of the catalog at ``source`` with the dev instance, then build the site.

    ``changes`` (slug -> appended Markdown) is applied before every release after the first,
    so the site has revisions, diffs, aliases and a version switcher with choices.
    """
    catalog = root / "runbooks"
    shutil.copytree(source, catalog)
    dev = root / "dev"
    target = SigningTarget(instance="dev", dev_state=dev)
    for i, version in enumerate(versions):
        if i:
            for slug, text in changes.items():
                _append(catalog, slug, text)
        make_release(load_catalog(catalog), version, root / "releases", target)
    out = root / "site"
    built = run_cli(
        "sealbook",
        "build",
        "--releases",
        str(root / "releases"),
        "--out",
        str(out),
        "--policy",
        str(dev / "sealbook.dev.toml"),
    )
    assert built.returncode == 0, f"sealbook build failed:\n{built.stdout}\n{built.stderr}"
    return BuiltSite(out.resolve(), root / "releases", versions)


@dataclass
class Watch:
    """What one page did: requests, console errors, page errors, dialogs."""

    site: BuiltSite
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    xss: list[str] = field(default_factory=list)
    """Pages where something assigned ``window.__xss``."""

    def outside(self) -> list[str]:
        """Requests whose URL is not a ``file://`` path inside the site folder."""
        return [url for url in self.requests if self.site.path_of(url) is None]

    def problems(self) -> list[str]:
        """Everything that should fail the test, one line each."""
        return (
            [f"request left the site: {url}" for url in self.outside()]
            + [f"console error: {text}" for text in self.console_errors]
            + [f"page error: {text}" for text in self.page_errors]
            + [f"dialog opened: {text}" for text in self.dialogs]
            + [f"window.__xss assigned on {url}" for url in self.xss]
        )


@dataclass
class SitePage:
    """A Chromium tab on a built site, watched from its first request."""

    page: Any
    watch: Watch

    @property
    def site(self) -> BuiltSite:
        return self.watch.site

    def open(self, path: str) -> None:
        """Load site path ``path`` (and whatever it redirects to) from ``file://``."""
        self.page.goto(self.site.url(path), wait_until="load")

    def current(self) -> str:
        """The site path of the page now shown (query and fragment dropped)."""
        path = self.site.path_of(self.page.url)
        assert path is not None, f"the tab left the site: {self.page.url}"
        return path

    def copied(self, button: Any, key: str | None = None) -> str:
        """Click ``button`` (or focus it and press ``key``) like a user; return the one text
        it handed to the clipboard."""
        self.page.evaluate("window.__sbClipboard.length = 0")
        if key is None:
            # force: no actionability wait; still a real mouse click at the button's centre,
            # so a covered or misplaced button yields no write (or the wrong one): fails below.
            button.click(force=True)
        else:
            button.focus()
            self.page.keyboard.press(key)
        # The site copies inside the click handler: the log is normally full on return.
        writes = self.page.evaluate("window.__sbClipboard.splice(0)")
        if not writes:
            self.page.wait_for_function("window.__sbClipboard.length > 0", timeout=2_000)
            writes = self.page.evaluate("window.__sbClipboard.splice(0)")
        assert len(writes) == 1, f"one click wrote the clipboard {len(writes)} times: {writes}"
        write = writes[0]
        assert write["prevented"], (
            "the copy event was not cancelled: the browser would copy the selection instead"
        )
        text = write["text"]
        assert isinstance(text, str)
        return text


def watched_tab(context: Any, site: BuiltSite) -> Iterator[SitePage]:
    """A new tab on ``site``; on exit, fail on anything its watch recorded, then close it."""
    page = context.new_page()
    watch = Watch(site)
    page.on("request", lambda request: watch.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            watch.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))

    def dialog(d: Any) -> None:
        watch.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    page.expose_function("__sbXssHit", lambda url: watch.xss.append(str(url)))
    try:
        yield SitePage(page, watch)
        page.wait_for_timeout(50)  # let late requests (workers, images) show up in the log
        problems = watch.problems()
        assert not problems, "\n".join(problems)
    finally:
        page.close()


CONSOLE = ("console", "shell-session")


def run_command(slug: str, version: str, snippet: dict[str, Any]) -> str:
    """The pinned command the issue specifies, built from the signed manifest."""
    hex_digest = snippet["digest"].removeprefix("sha256:")
    return f"sealbook run {slug}@{version} {snippet['id']} --sha256 {hex_digest}"


FIGURES_JS = """(figures) => figures.map((f) => ({
  id: f.dataset.snippetId,
  digest: f.dataset.digest,
  executable: f.dataset.executable,
  copy: f.querySelectorAll("button.sb-copy").length,
  run: f.querySelectorAll("button.sb-copy-run").length,
  runCode: f.querySelectorAll("code.sb-run").length,
}))"""


def check_snippets(tab: SitePage, slug: str, version: str) -> tuple[int, list[str]]:
    """Click every copy button of the page shown and compare with release ``version``'s manifest.

    Returns (snippets checked, mismatches).
    """
    signed = tab.site.runbook(version, slug)["snippets"]
    figures = tab.page.locator("figure.sb-snippet")
    shown = figures.evaluate_all(FIGURES_JS)
    where = f"{tab.current()} ({slug}@{version})"
    if [f["id"] for f in shown] != [s["id"] for s in signed]:
        return 0, [
            f"{where}: snippets shown {[f['id'] for f in shown]}, signed {[s['id'] for s in signed]}"
        ]
    bad = []
    for i, (snippet, figure) in enumerate(zip(signed, shown, strict=True)):
        name = f"{where} #{snippet['id']}"
        if figure["digest"] != snippet["digest"]:
            bad.append(f"{name}: data-digest {figure['digest']}")
        if figure["executable"] != ("true" if snippet["executable"] else "false"):
            bad.append(f"{name}: data-executable {figure['executable']}")
        if figure["copy"] != 1:
            bad.append(f"{name}: {figure['copy']} copy buttons")
            continue
        text = tab.copied(figures.nth(i).locator("button.sb-copy"))
        if text != snippet["text"][:-1]:
            bad.append(
                f"{name}: copy yields {text!r}, signed text minus final LF is {snippet['text'][:-1]!r}"
            )
        if snippet["language"] in CONSOLE and any(
            line.startswith("$ ") for line in text.split("\n")
        ):
            bad.append(f"{name}: a console copy kept a prompt: {text!r}")
        if not snippet["executable"]:
            if figure["run"] or figure["runCode"]:
                bad.append(f"{name}: a reference block shows a run command")
            continue
        if figure["run"] != 1:
            bad.append(f"{name}: {figure['run']} run-command copy buttons")
            continue
        command = tab.copied(figures.nth(i).locator("button.sb-copy-run"))
        if command != run_command(slug, version, snippet):
            bad.append(
                f"{name}: run copy yields {command!r}, expected {run_command(slug, version, snippet)!r}"
            )
    return len(signed), bad


# --- markup that could run or load something (html.parser) ---------------------------

URL_ATTRIBUTES = {
    "href", "src", "action", "formaction", "data", "poster", "background", "cite",
    "xlink:href", "ping", "manifest", "codebase", "longdesc", "usemap", "srcset",
}  # fmt: skip
NEVER_TAGS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "portal"}
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")


def dangerous_url(value: str) -> bool:
    """True for a URL whose scheme runs script or embeds a document (as a browser reads it)."""
    probe = _INVISIBLE.sub("", html.unescape(value)).lower()
    match = _SCHEME.match(probe)
    return match is not None and match.group(1) in ("javascript", "vbscript", "data")


class LiveMarkup(HTMLParser):
    """Finds markup that could run or load something in one HTML document."""

    def __init__(self, site: BuiltSite, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.site, self.page = site, page
        self.problems: list[str] = []
        self.text: list[str] = []
        self.stack: list[str] = []

    def problem(self, message: str) -> None:
        self.problems.append(f"{self.page}:{self.getpos()[0]}: {message}")

    def inside_site(self, url: str) -> bool:
        """A relative URL naming a file of the site (the only scripts and styles allowed)."""
        if _SCHEME.match(url.lower()) or url.startswith(("/", "\\")):
            return False
        base = (self.site.root / self.page).parent
        target = (base / url.split("?")[0].split("#")[0]).resolve()
        return target.is_file() and target.is_relative_to(self.site.root)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        for name, value in values.items():
            if name.startswith("on"):
                self.problem(f"<{tag} {name}={value!r}>: event handler attribute")
            if name == "srcdoc":
                self.problem(f"<{tag} srcdoc>: an embedded document")
            if name in URL_ATTRIBUTES and dangerous_url(value):
                self.problem(f"<{tag} {name}={value!r}>: script or data URL")
            if name == "style" and re.search(r"url\(|expression\(|@import", value, re.I):
                self.problem(f"<{tag} style={value!r}>: loads or runs something")
        if tag in NEVER_TAGS:
            self.problem(f"<{tag}>: never part of a sealbook page")
        elif tag == "script" and values.get("type") == "application/json":
            tag = "json"  # material's configuration: a data block, never run; must be JSON
        elif tag == "script":
            if not self.inside_site(values.get("src", "")):
                self.problem(f"<script src={values.get('src')!r}>: not a file of the site")
        elif tag == "link" and not self.inside_site(values.get("href", "")):
            self.problem(f"<link href={values.get('href')!r}>: not a file of the site")
        elif tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            url = values.get("content", "").partition("url=")[2]
            if not self.inside_site(url):
                self.problem(f"<meta http-equiv=refresh content={values.get('content')!r}>")
        elif tag == "form" and (values.get("name") != "search" or "action" in values):
            self.problem(f"<form {values}>: the search box is the only form")
        if tag in ("script", "style", "json"):
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.stack and self.stack[-1] in (tag, "json" if tag == "script" else tag):
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self.stack and data.strip():
            where = self.stack[-1]
            if where == "script":
                self.problem(f"inline script: {data.strip()[:80]!r}")
            elif where == "json":
                try:
                    json.loads(data)
                except ValueError:
                    self.problem(f"a JSON data block that is not JSON: {data.strip()[:80]!r}")
            elif re.search(r"@import|url\(|expression\(", data, re.I):
                self.problem(f"<style> that loads something: {data.strip()[:80]!r}")
        elif not self.stack:
            self.text.append(data)


def scan(site: BuiltSite, page: str, markup: str) -> LiveMarkup:
    """Parse ``markup`` (site path ``page``, or a label) and return what was found."""
    parser = LiveMarkup(site, page)
    parser.feed(markup)
    parser.close()
    return parser
