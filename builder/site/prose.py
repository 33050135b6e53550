"""Render a frozen runbook's prose to safe HTML, with its signed snippets put in place.

Rules (docs/site.md, "Markdown on the site"):
- one parser: the body is parsed by `builder.markdown.parser` (CommonMark, GFM tables,
  strikethrough, task lists, alerts ``> [!NOTE]``, footnotes, autolinks; material
  admonitions ``!!! note``), the parse `builder.runbook` takes the snippets from, so the
  page cannot draw a block boundary other than the signed one;
- every fenced block is a snippet: the i-th ``fence`` token is put in place by the
  manifest's snippet of its line, as a placeholder; the page shows the manifest's signed
  text there, never the Markdown (a fence the manifest does not name shows nothing);
- indented code blocks are ordinary code (``<pre><code>``, escaped), not snippets;
- raw HTML is parsed, and the rendered page goes through ``nh3`` with an allow-list of
  tags, attributes and classes: no script, style, frame, object, form, SVG or MathML
  element, no ``on*`` or ``style`` attribute, no ``javascript:``/``data:``/``vbscript:``
  URL survives; every link gets ``rel="noopener noreferrer"``;
- link URLs: only relative, ``#``, ``http(s)`` and ``mailto`` survive (`safe_url`);
  images become links ``[image: alt]`` (the site loads nothing from elsewhere); ``x.md``
  and ``x.md#frag`` links lead to that runbook's latest page (fragment kept);
- headings get GitHub-like ids (h1-h6, ``-1``, ``-2`` for repeats); h2-h4 make the TOC.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import html
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nh3
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from builder.markdown import CLEAN_CONTENT_TAGS, heading_anchor, heading_text, parser
from verifier.manifest import Runbook

SAFE_SCHEMES = ("http", "https", "mailto")
TOC_LEVELS = range(2, 5)
"""Heading levels in the TOC (Python-Markdown's ``toc_depth="2-4"`` before)."""
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_PLACEHOLDER_PREFIX = "sbsnippet"
# Any placeholder; `render_prose` keeps those with its page's token. One pattern for every page.
_PLACEHOLDER_RE = re.compile(_PLACEHOLDER_PREFIX + r"[0-9a-f]{24}n(\d+)x")
_ALIGN_RE = re.compile(r"text-align:\s*(left|center|right)")
_REMOVED_TITLE = "link removed: scheme not allowed"

# Material's admonition types (and aliases): the classes its stylesheet colours.
_ADMONITION_TYPES = frozenset(
    {
        *("note", "abstract", "summary", "tldr", "info", "todo", "tip", "hint", "important"),
        *("success", "check", "done", "question", "help", "faq", "warning", "caution"),
        *("attention", "failure", "fail", "missing", "danger", "error", "bug", "example"),
        *("quote", "cite"),
    }
)
_TAGS = frozenset(
    {
        *("p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "a", "code", "pre", "em"),
        *("strong", "del", "s", "blockquote", "hr", "br", "table", "thead", "tbody", "tr"),
        *("th", "td", "details", "summary", "kbd", "sup", "sub", "section", "div", "span"),
        *("input", "dl", "dt", "dd", "abbr", "mark", "ins", "small", "img"),
    }
)
"""Allowed tags. ``img`` only with a ``src`` that is the release's copy of a linked file."""
_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title", "id"},
    **{f"h{n}": {"id"} for n in range(1, 7)},
    "li": {"id"},
    "input": {"checked"},
    "details": {"open"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
}
_ATTRIBUTE_VALUES: dict[str, dict[str, set[str]]] = {
    "input": {"type": {"checkbox"}},
    "th": {"align": {"left", "center", "right"}},
    "td": {"align": {"left", "center", "right"}},
}
_SET_ATTRIBUTES: dict[str, dict[str, str]] = {"input": {"disabled": ""}}
_CLASSES: dict[str, set[str]] = {
    "div": {"admonition", *_ADMONITION_TYPES},
    "details": set(_ADMONITION_TYPES),
    "p": {"admonition-title"},
    "ul": {"contains-task-list"},
    "ol": {"contains-task-list", "footnotes-list"},
    "li": {"task-list-item", "footnote-item"},
    "input": {"task-list-item-checkbox"},
    "sup": {"footnote-ref"},
    "a": {"footnote-backref", "sb-link-removed"},
    "section": {"footnotes"},
    "hr": {"footnotes-sep"},
}
_ALERT_KINDS = {"note", "tip", "important", "warning", "caution"}

_IMG_WITHOUT_SRC_RE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")
_PAGE_SLUG: contextvars.ContextVar[str] = contextvars.ContextVar("sealbook_prose_slug")
"""The slug of the page being sanitized (for `_attribute_filter`'s ``x.md`` links)."""
_PAGE_FILES: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "sealbook_prose_files"
)
"""The page's linked files: path in the runbooks folder -> URL of the release's copy."""


@dataclass(frozen=True)
class Prose:
    """A runbook's prose split around its snippets: ``parts[i]`` is HTML or a snippet index."""

    parts: tuple[str | int, ...]
    toc: tuple[dict[str, object], ...]
    """TOC tokens of the h2-h4 headings: ``level``, ``id``, ``name`` (plain text,
    HTML-escaped as Python-Markdown's were) and ``children``."""
    blocks: dict[int, str] = field(default_factory=dict, compare=False)
    """snippet index -> its fenced block as written (a console transcript, whole)."""


def safe_url(url: str) -> str | None:
    """``url`` if its scheme is allowed (or it has none), else None."""
    probe = _CONTROL_RE.sub("", html.unescape(url))
    match = _SCHEME_RE.match(probe)
    if match is None:
        return None if probe.startswith("//") else url
    return url if match.group(1).lower() in SAFE_SCHEMES else None


def linked(url: str, slug: str, files: Mapping[str, str]) -> str | None:
    """The release's URL of the linked file ``url`` names from ``slug``'s source, if frozen."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    if not path or _SCHEME_RE.match(path) or path.startswith("/"):
        return None
    return files.get(posixpath.normpath(posixpath.join(posixpath.dirname(slug), path)))


def _rewrite(url: str, slug: str) -> str:
    """A relative ``x.md`` / ``x.md#frag`` link of ``slug``'s page, to that runbook's page;
    a link to a frozen file, to the release's copy."""
    frozen = linked(url, slug, _PAGE_FILES.get({}))
    if frozen is not None:
        return frozen
    path, sep, anchor = url.partition("#")
    if _SCHEME_RE.match(url) or not path.endswith(".md"):
        return url
    base = posixpath.dirname(slug)
    target = posixpath.normpath(posixpath.join(base, path[: -len(".md")]))
    if target.startswith(("..", "/")):
        return url
    # Revision pages live at runbooks/<slug>/rN.html: climb out of the slug's folders.
    up = "../" * (slug.count("/") + 1)
    return f"{up}{target}/latest.html{sep}{anchor}"


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """nh3's last word on every kept attribute (Markdown's and raw HTML's alike)."""
    if _PLACEHOLDER_PREFIX in value:
        return None  # a snippet placeholder is text; never let one sit inside an attribute
    if tag == "img" and attr == "src":
        # Only the release's own copies of the runbook's images: nothing loads from elsewhere.
        return value if value in _PAGE_FILES.get({}).values() else None
    if attr in ("href", "src"):
        if safe_url(value) is None:
            return None
        slug = _PAGE_SLUG.get(None)
        return value if slug is None else _rewrite(value, slug)
    if attr == "id" and value.startswith("__"):
        return None  # material's own element ids (``__drawer``, ``__search``...)
    return value


@functools.cache
def _cleaner() -> nh3.Cleaner:
    """The one configured sanitizer (immutable; shared by every page and thread)."""
    return nh3.Cleaner(
        tags=set(_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(names) for tag, names in _ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        strip_comments=True,
        link_rel="noopener noreferrer",
        tag_attribute_values={
            t: {a: set(v) for a, v in m.items()} for t, m in _ATTRIBUTE_VALUES.items()
        },
        set_tag_attribute_values={t: dict(m) for t, m in _SET_ATTRIBUTES.items()},
        url_schemes=set(SAFE_SCHEMES),
        allowed_classes={tag: set(names) for tag, names in _CLASSES.items()},
    )


class _Renderer(RendererHTML):
    """markdown-it's HTML renderer with the parser's plugin rules, fences as placeholders
    and images as links. Holds no state of a page: one instance serves every page."""

    def __init__(self) -> None:
        super().__init__()
        base: Any = parser().renderer  # a RendererHTML (RendererProtocol has no rules)
        for name, rule in base.rules.items():
            if name in self.rules:
                continue  # our own (RendererHTML's or overridden) rule
            func = getattr(rule, "__func__", None)
            # Plugin rules are bound to the parser's renderer; rebind them to this one.
            self.rules[name] = func.__get__(self) if func is not None else rule

    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        index = tokens[idx].meta.get("sealbook_snippet")
        if index is None:
            return ""  # a fence the manifest does not name: unsigned text is not shown
        return f"{env['sealbook_token']}n{index}x\n"

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        alt = self.renderInlineAsText(token.children, options, env) or src
        frozen = linked(src, env["sealbook_slug"], env["sealbook_files"])
        if frozen is not None:  # shown from the release, where it is signed
            return f'<img src="{html.escape(frozen)}" alt="{html.escape(alt)}">'
        href = f' href="{html.escape(src)}"' if safe_url(src) is not None else ""
        return f"<a{href}>[image: {html.escape(alt, quote=False)}]</a>"


@functools.cache
def _renderer() -> _Renderer:
    return _Renderer()


def _nest(flat: list[tuple[int, str, str]]) -> tuple[dict[str, object], ...]:
    """(level, id, name) headings in order, nested as Python-Markdown's toc tokens were."""
    roots: list[dict[str, Any]] = []
    stack: list[dict[str, Any]] = []
    for level, ident, name in flat:
        node: dict[str, Any] = {"level": level, "id": ident, "name": name, "children": []}
        while stack and stack[-1]["level"] >= level:
            stack.pop()
        (stack[-1]["children"] if stack else roots).append(node)
        stack.append(node)
    return tuple(roots)


def _prepare(
    tokens: list[Token], runbook: Runbook, body_start: int, blocks: dict[int, str]
) -> tuple[dict[str, object], ...]:
    """Mark fences with their snippets (``blocks`` gets each one's text as written), give
    headings ids, adjust attributes; the TOC."""
    by_line = {snippet.line: i for i, snippet in enumerate(runbook.snippets)}
    seen: dict[str, int] = {}
    toc: list[tuple[int, str, str]] = []
    admonitions: list[bool] = []  # open admonitions: collapsible or not
    for i, token in enumerate(tokens):
        kind = token.type
        if kind == "fence":
            line = body_start + token.map[0] + 1 if token.map else None
            index = by_line.pop(line, None) if line else None
            token.meta["sealbook_snippet"] = index
            if index is not None:
                blocks[index] = token.content
        elif kind == "heading_open":
            inline = tokens[i + 1] if i + 1 < len(tokens) else None
            text = heading_text(inline.children if inline is not None else None)
            ident = heading_anchor(text, seen)
            token.attrSet("id", ident)
            level = int(token.tag[1])
            if level in TOC_LEVELS:
                toc.append((level, ident, html.escape(text, quote=False)))
        elif kind == "inline":
            for child in token.children or ():
                if child.type == "link_open" and safe_url(str(child.attrGet("href") or "")) is None:
                    child.attrs.pop("href", None)
                    child.attrSet("class", "sb-link-removed")
                    child.attrSet("title", _REMOVED_TITLE)
        elif kind in ("th_open", "td_open"):
            match = _ALIGN_RE.fullmatch(str(token.attrs.pop("style", "")))
            if match:
                token.attrSet("align", match.group(1))
        elif kind == "alert_open":
            alert = str(token.meta.get("kind") or token.info).lower()
            token.attrSet("class", f"admonition {alert if alert in _ALERT_KINDS else 'note'}")
        elif kind == "alert_title_open":
            token.attrSet("class", "admonition-title")
        elif kind == "admonition_open":
            classes = str(token.attrGet("class") or "").split()
            collapsible = "is-collapsible" in classes
            admonitions.append(collapsible)
            if collapsible:  # material's collapsible block: <details class="tip">
                token.tag = "details"
                token.attrs = {"class": " ".join(c for c in classes if c in _ADMONITION_TYPES)}
                if "collapsible-open" in classes:
                    token.attrSet("open", "")
        elif kind == "admonition_close":
            collapsible = admonitions.pop() if admonitions else False
            if collapsible:
                token.tag = "details"
        elif kind in ("admonition_title_open", "admonition_title_close") and (
            admonitions and admonitions[-1]
        ):
            token.tag = "summary"
            token.attrs = {}
    return _nest(toc)


def render_prose(
    source: bytes, runbook: Runbook, body_start: int, files: Mapping[str, str] | None = None
) -> Prose:
    """Render ``source`` (the frozen file) with the signed snippets of ``runbook`` in place.

    ``body_start`` is the 0-based line where the body begins (after any front matter);
    ``files`` maps the linked files frozen with the release (path in the runbooks folder)
    to their URL from the page: images are shown from there, links lead there.
    """
    files = files or {}
    text = source.decode("utf-8")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "\n".join(lines[body_start:])
    # An unguessable token: an author cannot write it without changing the digest it comes from.
    token = _PLACEHOLDER_PREFIX + hashlib.sha256(source).hexdigest()[:24]
    md = parser()
    env: dict[str, Any] = {
        "sealbook_token": token,
        "sealbook_slug": runbook.slug,
        "sealbook_files": files,
    }
    tokens = md.parse(body, env)
    blocks: dict[int, str] = {}
    toc = _prepare(tokens, runbook, body_start, blocks)
    rendered = _renderer().render(tokens, md.options, env)
    reset = _PAGE_SLUG.set(runbook.slug)
    reset_files = _PAGE_FILES.set(files)
    try:
        cleaned = _cleaner().clean(rendered)
    finally:
        _PAGE_FILES.reset(reset_files)
        _PAGE_SLUG.reset(reset)
    # An image whose source was not the release's copy lost its ``src``: drop the element.
    cleaned = _IMG_WITHOUT_SRC_RE.sub("", cleaned)
    parts: list[str | int] = []
    placed: set[int] = set()
    pos = 0
    for match in _PLACEHOLDER_RE.finditer(cleaned):
        number = int(match.group(1))
        if not match.group(0).startswith(token) or number in placed:
            continue
        if number >= len(runbook.snippets):
            continue
        parts.append(cleaned[pos : match.start()])
        parts.append(number)
        placed.add(number)
        pos = match.end()
    parts.append(cleaned[pos:])
    # A snippet whose fence could not be placed in the text still appears, at the end.
    parts.extend(i for i in range(len(runbook.snippets)) if i not in placed)
    return Prose(tuple(p for p in parts if not isinstance(p, str) or p.strip()), toc, blocks)
