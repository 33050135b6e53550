"""Headless Chromium fixtures for the catalog site, opened from ``file://``.

One Chromium per session (Debian's ``/usr/bin/chromium`` driven by Playwright: its own
browser download cannot work here), one fresh profile, one site per catalog per session.
Every page a test opens is watched: a request whose URL is not a ``file://`` path inside
the site folder, a console error or an uncaught page error fails the test, and so does a
dialog (``alert``/``confirm``/``prompt``: the XSS payloads' tell).

Chromium missing: the tests skip, unless ``SEALBOOK_REQUIRE_BROWSER=1`` (set by ``.ci/run``),
then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from builder.demo import CHANGED, VERSIONS
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


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The sample catalog as the demo signs it (two releases, two runbooks changed), built once."""
    require_chromium()
    return sign_and_build(REPO / "runbooks", tmp_path_factory.mktemp("demo"), VERSIONS, CHANGED)


@pytest.fixture(scope="session")
def xss_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The hostile catalog of tests/data/xss/catalog, signed twice (one payload added), built."""
    require_chromium()
    change = {"xss/front-matter": "\n## Second release `<img src=x onerror=alert(2)>`\n"}
    return sign_and_build(XSS_CATALOG, tmp_path_factory.mktemp("xss"), XSS_VERSIONS, change)


@pytest.fixture(scope="session")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium for the session, with a fresh profile; yields its context.

    Playwright refuses ``--user-data-dir`` in ``launch()``'s args: a persistent context
    on a fresh temporary folder is how a profile of our own is given to it.
    """
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = Path(tempfile.mkdtemp(prefix="sealbook-chromium-"))
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        context.add_init_script(CLIPBOARD_PROBE)
        # Nothing may leave the machine even if a page tries: the request is still logged
        # (and fails the test), then aborted here instead of reaching a resolver.
        context.route(
            lambda url: not url.startswith("file:"),
            lambda route: route.abort("blockedbyclient"),
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Watch:
    """What one page did: requests, console errors, page errors, dialogs."""

    site: BuiltSite
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

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

    def copied(self, button: Any) -> str:
        """Click ``button`` like a user and return the one text it handed to the clipboard."""
        self.page.evaluate("window.__sbClipboard.length = 0")
        button.click()
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


def _watched(context: Any, site: BuiltSite) -> Iterator[SitePage]:
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
    try:
        yield SitePage(page, watch)
        page.wait_for_timeout(50)  # let late requests (workers, images) show up in the log
        problems = watch.problems()
        assert not problems, "\n".join(problems)
    finally:
        page.close()


@pytest.fixture
def demo_page(chromium: Any, demo_site: BuiltSite) -> Iterator[SitePage]:
    """A watched tab on the demo site."""
    yield from _watched(chromium, demo_site)


@pytest.fixture
def xss_page(chromium: Any, xss_site: BuiltSite) -> Iterator[SitePage]:
    """A watched tab on the hostile catalog's site."""
    yield from _watched(chromium, xss_site)
