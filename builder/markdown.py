"""The one Markdown parser: CommonMark plus what GitHub and material authors write.

markdown-it-py's CommonMark core with GFM (tables, strikethrough, task lists, alerts
``> [!NOTE]``, footnotes, autolinks) and material admonitions (``!!! note``). Raw HTML is
kept in the token stream and sanitized when rendered (`builder.site.prose`). The same token
stream yields a runbook's snippets (`builder.runbook`) and its rendered page, so a page can
never draw a block boundary other than the signed one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.admon import admon_plugin
from mdit_py_plugins.gfm import gfm_plugin

_SLUG_DROP_RE = re.compile(r"[^\w\- ]")
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)")
CLEAN_CONTENT_TAGS = frozenset(
    {"script", "style", "template", "noscript", "svg", "math", "iframe", "object"}
)
"""Dropped by the sanitizer with everything inside them (other unknown tags: text kept)."""


@functools.cache
def parser() -> MarkdownIt:
    """The configured parser (shared; markdown-it parsers are reusable)."""
    md = MarkdownIt("commonmark", {"html": True, "linkify": False})
    md.use(gfm_plugin)
    md.use(admon_plugin)
    return md


def parse(text: str) -> list[Token]:
    """The block token stream of ``text``."""
    return parser().parse(text)


@dataclass(frozen=True)
class Fence:
    """A fenced code block as CommonMark sees it."""

    line: int
    """0-based line of the opening fence in the parsed text."""
    info: str
    content: str
    """The block's text, the fence's indentation removed, LF line endings."""
    closed: bool
    """False when the block ran to the end of its container (no closing fence)."""
    heading: str | None
    """The raw text of the nearest heading before it."""
    index: int
    """Position of the fence token in the stream."""


@dataclass(frozen=True)
class Outline:
    """What a runbook's body holds: its fences, first H1 and whether it has other content."""

    fences: tuple[Fence, ...]
    h1: str | None
    h1_lines: tuple[int, int] | None
    """0-based [start, end) lines of the first H1."""
    has_prose: bool
    first_heading: str | None = None
    """The text of the first heading of any level."""
    links: tuple[str, ...] = ()
    """Every image source and link target, as written, in order."""
    link_lines: tuple[int, ...] = ()
    """The 0-based line of each of ``links``."""
    anchors: frozenset[str] = frozenset()
    """The ids the page gives its headings (`heading_anchor`), for ``#fragment`` links."""


def outline(tokens: list[Token], lines: list[str]) -> Outline:
    """Fences, the first H1 and whether there is prose, from a parsed body's ``tokens``."""
    fences: list[Fence] = []
    heading: str | None = None
    h1: str | None = None
    h1_lines: tuple[int, int] | None = None
    prose = False
    first: str | None = None
    links: list[str] = []
    link_lines: list[int] = []
    seen: dict[str, int] = {}
    for i, token in enumerate(tokens):
        for child in token.children or ():
            target = child.attrGet("src") if child.type == "image" else child.attrGet("href")
            if child.type in ("image", "link_open") and target:
                links.append(str(target))
                link_lines.append(_line_of(str(target), token, lines))
        if token.type == "heading_open":
            text = tokens[i + 1].content.strip() if i + 1 < len(tokens) else ""
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            heading_anchor(heading_text(inline.children if inline else None), seen)
            heading = text
            first = text if first is None else first
            if token.tag == "h1" and h1 is None:
                h1 = text
                h1_lines = (token.map[0], token.map[1]) if token.map else None
                continue
        if token.type == "fence":
            assert token.map is not None
            fences.append(
                Fence(
                    line=token.map[0],
                    info=token.info.strip(),
                    content=token.content,
                    closed=_closed(token, lines),
                    heading=heading,
                    index=i,
                )
            )
        elif token.type == "inline" and token.content.strip():
            if not (h1_lines and token.map and token.map[0] == h1_lines[0]):
                prose = True
        elif token.type in ("html_block", "code_block", "hr"):
            prose = True
    return Outline(
        tuple(fences),
        h1,
        h1_lines,
        prose,
        first,
        tuple(links),
        tuple(link_lines),
        frozenset(seen),
    )


def _line_of(target: str, token: Token, lines: list[str]) -> int:
    """The 0-based line of the block ``token`` on which ``target`` is written (else its first)."""
    start, end = token.map if token.map else (0, 0)
    for index in range(start, min(end, len(lines))):
        if target in lines[index]:
            return index
    return start


def heading_text(children: Sequence[Token] | None) -> str:
    """The text of a heading's inline tokens, markup left out.

    Text inside raw ``<script>``-like elements is left out too: the sanitizer drops it
    from the page, so the id and the TOC must not show it either.
    """
    out: list[str] = []
    hidden: list[str] = []  # open raw elements whose content the sanitizer drops
    for token in children or ():
        if token.type == "html_inline":
            tag = _TAG_RE.match(token.content)
            name = tag.group(2).lower() if tag else ""
            if name in CLEAN_CONTENT_TAGS:
                if not tag or not tag.group(1):
                    hidden.append(name)
                elif name in hidden:
                    del hidden[len(hidden) - 1 - hidden[::-1].index(name) :]
        elif hidden:
            continue
        elif token.type in ("text", "code_inline"):
            out.append(token.content)
        elif token.type == "image":
            out.append(heading_text(token.children))
        elif token.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out).strip()


def heading_anchor(text: str, seen: dict[str, int]) -> str:
    """A GitHub-like id: lower case, punctuation dropped, spaces to ``-``; repeats ``-1``..."""
    slug = _SLUG_DROP_RE.sub("", text.lower()).replace(" ", "-").lstrip("_") or "section"
    count = seen.get(slug)
    if count is None:
        seen[slug] = 0
        return slug
    while True:
        count += 1
        candidate = f"{slug}-{count}"
        if candidate not in seen:
            seen[slug] = count
            seen[candidate] = 0
            return candidate


def _closed(token: Token, lines: list[str]) -> bool:
    """The fence ends with a closing fence line (CommonMark otherwise runs it to the end)."""
    assert token.map is not None
    start, end = token.map
    if end - start < 2 or end > len(lines):
        return False
    last = lines[end - 1].strip()
    marker = token.markup  # a closing fence: the opening character, at least as many times
    return len(last) >= len(marker) and set(last) == {marker[0]}
