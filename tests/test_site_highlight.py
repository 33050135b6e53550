"""Build-time highlighting (builder.site.highlight) shows exactly the signed text."""

from __future__ import annotations

import html
import re

from markupsafe import Markup

from builder.runbook import load_catalog
from builder.site.highlight import highlight
from tests.conftest import REPO


def _text_of(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]*>", "", markup))


def test_every_sample_snippet_shows_its_signed_text() -> None:
    """Every snippet of the sample catalog: the highlighted HTML, tags removed, is its text."""
    catalog = load_catalog(REPO / "runbooks")
    checked = highlighted = 0
    for rb in catalog.runbooks:
        for s in rb.snippets:
            out = highlight(s.language, s.text)
            assert _text_of(str(out)) == s.text, (rb.slug, s.id)
            checked += 1
            highlighted += isinstance(out, Markup)
    assert checked > 50 and highlighted > 40


def test_hostile_text_and_whitespace_survive() -> None:
    """HTML-special characters are escaped; leading and trailing blank lines and tabs stay."""
    text = "\n\n\techo \"<script>alert(1)</script>\" & 'x'\n\n"
    out = highlight("bash", text)
    assert isinstance(out, Markup)
    assert "<script>" not in out
    assert _text_of(out) == text


def test_languages_without_a_lexer_here_are_plain() -> None:
    """Unknown languages (and text) are returned as the text itself, to be escaped."""
    assert highlight("text", "a < b\n") == "a < b\n"
    assert not isinstance(highlight("no-such-language", "x\n"), Markup)
