"""Hostile runbooks: nothing from Markdown or front matter becomes live HTML on the built site."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from builder.site.prose import safe_url
from tests.site_helpers import signed_site

UNSAFE_URL = re.compile(r"^\s*(javascript|data|vbscript)\s*:", re.IGNORECASE)


class _Live(HTMLParser):
    """Records everything in a page that could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.live: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in a and a.get("type") != "application/json":
                self.live.append("inline script")
            if a.get("src", "").startswith(("http:", "https:", "//")):
                self.live.append(f"foreign script {a['src']}")
        for k, v in a.items():
            if k.startswith("on"):
                self.live.append(f"<{tag} {k}>")
            if k in ("href", "src", "action") and UNSAFE_URL.match(v):
                self.live.append(f"<{tag} {k}={v}>")
            if k in ("href", "src") and v.startswith(("http:", "https:", "//")) and tag != "a":
                self.live.append(f"external resource <{tag} {k}={v}>")
        if tag in ("iframe", "object", "embed", "base", "img"):
            self.live.append(f"<{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if not self._in_script:
            self.text.append(data)


def _pages() -> list[Path]:
    return sorted(signed_site().build.rglob("*.html"))


def test_no_page_has_live_payloads() -> None:
    for page in _pages():
        parser = _Live()
        parser.feed(page.read_text(encoding="utf-8"))
        assert parser.live == [], (page, parser.live)


def test_every_page_has_the_csp() -> None:
    from verifier.sitelayout import CSP

    for page in _pages():
        text = page.read_text(encoding="utf-8")
        assert text.count('http-equiv="Content-Security-Policy"') == 1, page
        assert "script-src &#39;self&#39;;" in text or "script-src 'self';" in text
        assert "unsafe-inline" not in CSP.split("script-src")[1].split(";")[0]


def test_hostile_runbook_raw_html_is_sanitized_and_metadata_shown_as_text() -> None:
    """Raw HTML in prose goes through the allow-list (nh3): script and handlers are removed,
    harmless tags stay. Front-matter values are text, escaped wherever they appear."""
    html_text = (signed_site().build / "runbooks/xss/hostile/r1.html").read_text(encoding="utf-8")
    parser = _Live()
    parser.feed(html_text)
    text = "".join(parser.text)
    for removed in ("alert(9)", "onerror=alert(10)", "alert(11)"):
        assert removed not in html_text, removed
    assert "raw html" in text  # the <div>'s text survives, its handler does not
    assert '"><script>alert(7)</script>' in text
    assert "<b onclick=alert(4)>svc</b>" in text


def test_hostile_snippet_is_shown_exactly() -> None:
    page = (signed_site().build / "runbooks/xss/hostile/r1.html").read_text(encoding="utf-8")
    assert "echo &#34;&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(21)&lt;/script&gt;&#34;" in page


def test_unsafe_alert_names_get_no_page() -> None:
    alerts = {p.name for p in (signed_site().build / "alerts").iterdir()}
    assert alerts == {"ServiceDown.html", "XssAlert.html"}


def test_search_index_escapes_titles() -> None:
    index = (signed_site().build / "search/search_index.json").read_text(encoding="utf-8")
    assert "<script>" not in index and "&lt;script&gt;" in index


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("javascript:alert(1)", False),
        (" JaVaScRiPt:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("&#106;avascript:alert(1)", False),
        ("data:text/html,x", False),
        ("vbscript:x", False),
        ("//evil.example/x", False),
        ("https://example.com/", True),
        ("mailto:oncall@example.com", True),
        ("../db/failover.md", True),
        ("#section", True),
    ],
)
def test_safe_url(url: str, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe
