"""Syntax highlighting of signed snippets at build time (Pygments), part of the page's bytes.

The highlighted HTML is the signed text, escaped, with token spans around it: the result is
checked (tags removed, entities unescaped, it must equal the signed text) and, if it is not,
the plain text is shown instead. Lexers come from a fixed table of Pygments' own classes,
never by name lookup (which also finds third-party plugin lexers: the bytes would depend on
what else is installed). Lexers never strip or add newlines. The Pygments version is part of
the site's recorded renderer versions (`verifier.sitemanifest`). What is copied and run is
never this HTML: it is the manifest's signed text (``template.sb-copy-text``).
"""

from __future__ import annotations

import functools
import html
import re
from typing import Any

from markupsafe import Markup

_TAG_RE = re.compile(r"<[^>]*>")


def _lexer_classes() -> dict[str, Any]:
    from pygments.lexers.configs import IniLexer, TOMLLexer
    from pygments.lexers.data import JsonLexer, YamlLexer
    from pygments.lexers.promql import PromQLLexer
    from pygments.lexers.python import PythonLexer
    from pygments.lexers.shell import BashLexer
    from pygments.lexers.sql import PostgresLexer, SqlLexer

    return {
        "bash": BashLexer,
        "sh": BashLexer,
        "shell": BashLexer,
        "zsh": BashLexer,
        "promql": PromQLLexer,
        "sql": SqlLexer,
        "postgresql": PostgresLexer,
        "psql": PostgresLexer,
        "yaml": YamlLexer,
        "yml": YamlLexer,
        "json": JsonLexer,
        "python": PythonLexer,
        "py": PythonLexer,
        "toml": TOMLLexer,
        "ini": IniLexer,
    }


@functools.cache
def _lexer(language: str) -> Any:
    cls = _lexer_classes().get(language.lower())
    if cls is None:
        return None
    return cls(stripnl=False, stripall=False, ensurenl=False, tabsize=0)


@functools.cache
def _formatter() -> Any:
    from pygments.formatters.html import HtmlFormatter

    return HtmlFormatter(nowrap=True)


@functools.lru_cache(maxsize=4096)
def highlight(language: str, text: str) -> Markup | str:
    """``text`` as HTML with Pygments token spans, or ``text`` itself (to be escaped) when
    the language has no lexer here or the result would not show exactly ``text``."""
    lexer = _lexer(language)
    if lexer is None:
        return text
    from pygments import highlight as pygments_highlight

    out = pygments_highlight(text, lexer, _formatter())
    if html.unescape(_TAG_RE.sub("", out)) != text:
        return text
    return Markup(out)  # noqa: S704 - Pygments escaped every character of the text; checked above
