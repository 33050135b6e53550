"""Headless Chromium fixtures for the catalog site, opened from ``file://``.

One Chromium per session (Debian's ``/usr/bin/chromium`` driven by Playwright), one fresh
profile, one site per catalog per session. See `tests.browser.harness` for what a watched
tab records and fails on. Chromium missing: the tests skip, unless
``SEALBOOK_REQUIRE_BROWSER=1`` (set by ``.ci/run``), then they fail.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from builder.demo import VERSIONS
from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CLIPBOARD_PROBE,
    XSS_CATALOG,
    XSS_PROBE,
    XSS_VERSIONS,
    BuiltSite,
    SitePage,
    require_chromium,
    sign_and_build,
    watched_tab,
)
from tests.conftest import run_cli


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The demo site, made by ``sealbook demo`` (sample catalog, two dev-signed releases), once."""
    folder = tmp_path_factory.mktemp("demo") / "demo"
    done = run_cli("sealbook", "demo", "--dir", str(folder))
    assert done.returncode == 0, f"sealbook demo failed:\n{done.stdout}\n{done.stderr}"
    return BuiltSite((folder / "site").resolve(), folder / "releases", VERSIONS)


@pytest.fixture(scope="session")
def xss_site(tmp_path_factory: pytest.TempPathFactory) -> BuiltSite:
    """The hostile catalog of tests/data/xss/catalog, signed twice (one payload added), built."""
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

    profile = tmp_path_factory.mktemp("chromium-profile")
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
        context.add_init_script(XSS_PROBE)
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


@pytest.fixture
def demo_page(chromium: Any, demo_site: BuiltSite) -> Iterator[SitePage]:
    """A watched tab on the demo site."""
    yield from watched_tab(chromium, demo_site)


@pytest.fixture
def xss_page(chromium: Any, xss_site: BuiltSite) -> Iterator[SitePage]:
    """A watched tab on the hostile catalog's site."""
    yield from watched_tab(chromium, xss_site)
