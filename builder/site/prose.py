"""Render a frozen runbook's prose to safe HTML, with its signed snippets put in place.

Rules (docs/site.md, "Markdown on the site"):
- extensions are allow-listed: ``tables``, ``admonition``, ``toc``, ``sane_lists``,
  ``def_list``; nothing that includes files, runs macros or injects attributes
  (no ``attr_list``, ``md_in_html``, snippets or macros);
- raw HTML never reaches the page: the block and inline HTML processors are removed,
  so ``<script>`` is text and is escaped like any text;
- indented code blocks are not code (only fenced blocks are snippets, and those are signed);
- link and image URLs: only relative, ``#``, ``http(s)`` and ``mailto`` survive;
  ``javascript:``, ``data:``, ``vbscript:`` and any other scheme are removed; images
  become links (the site loads nothing from elsewhere); ``x.md`` links lead to that
  runbook's latest page;
- every fenced block of the source is replaced by a placeholder at the line the signed
  manifest names; the page shows the manifest's signed text there, never the Markdown.
"""

from __future__ import annotations

import hashlib
import html
import posixpath
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import markdown
from markdown.extensions.toc import TocExtension
from markdown.treeprocessors import Treeprocessor

from verifier.manifest import Runbook

ALLOWED_EXTENSIONS = ("tables", "admonition", "sane_lists", "def_list")
SAFE_SCHEMES = ("http", "https", "mailto")
_FENCE_RE = re.compile(r"( *)(`{3,}|~{3,})(.*)")
_SCHEME_RE = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_CONTROL_RE = re.compile(r"[\x00-\x20\x7f-\x9f]+")
# Any placeholder; `render_prose` keeps those with its page's token. One pattern for every
# page: a pattern per token would be compiled per page (and evict others from re's cache).
_PLACEHOLDER_RE = re.compile(
    r"<p>(sbsnippet[0-9a-f]{24})n(\d+)x</p>|(sbsnippet[0-9a-f]{24})n(\d+)x"
)


@dataclass(frozen=True)
class Prose:
    """A runbook's prose split around its snippets: ``parts[i]`` is HTML or a snippet index."""

    parts: tuple[str | int, ...]
    toc: tuple[dict[str, object], ...]
    """Python-Markdown toc tokens of the headings."""


def safe_url(url: str) -> str | None:
    """``url`` if its scheme is allowed (or it has none), else None."""
    probe = _CONTROL_RE.sub("", html.unescape(url))
    match = _SCHEME_RE.match(probe)
    if match is None:
        return None if probe.startswith("//") else url
    return url if match.group(1).lower() in SAFE_SCHEMES else None


class _Sanitizer(Treeprocessor):
    """Drop unsafe URLs, turn images into links, point ``.md`` links at runbook pages."""

    def __init__(self, md: markdown.Markdown, slug: str) -> None:
        super().__init__(md)
        self.slug = slug

    def run(self, root: ET.Element) -> None:
        for el in root.iter():
            if el.tag == "img":
                src = el.attrib.get("src", "")
                alt = el.attrib.get("alt", "") or src
                el.tag = "a"
                el.attrib.clear()
                el.text = f"[image: {alt}]"
                if safe_url(src) is not None and _SCHEME_RE.match(src):
                    el.set("href", src)
            for attr in ("href", "src"):
                value = el.attrib.get(attr)
                if value is None:
                    continue
                if safe_url(value) is None:
                    del el.attrib[attr]
                    el.set("class", "sb-link-removed")
                    el.set("title", "link removed: scheme not allowed")
                    continue
                el.set(attr, self._rewrite(value))
            if el.tag == "a" and _SCHEME_RE.match(el.attrib.get("href", "")):
                el.set("rel", "noopener noreferrer")

    def _rewrite(self, url: str) -> str:
        path, sep, anchor = url.partition("#")
        if _SCHEME_RE.match(url) or not path.endswith(".md"):
            return url
        base = posixpath.dirname(self.slug)
        target = posixpath.normpath(posixpath.join(base, path[: -len(".md")]))
        if target.startswith(("..", "/")):
            return url
        # Revision pages live at runbooks/<slug>/rN.html: climb out of the slug's folders.
        up = "../" * (self.slug.count("/") + 1)
        return f"{up}{target}/latest.html{sep}{anchor}"


class _Converter(threading.local):
    """One configured ``markdown.Markdown`` per thread, reused (``reset()``) page after page.

    Building the parser (extensions, processors, patterns) costs about as much as a short
    page; the instance holds no state of a finished conversion after ``reset()``. An instance
    whose conversion raised is dropped: a half-run parser may keep state.
    """

    md: markdown.Markdown | None = None
    sanitizer: _Sanitizer | None = None

    def convert(self, text: str, slug: str) -> tuple[str, tuple[dict[str, object], ...]]:
        """``text`` as HTML, and its toc tokens; links are rewritten for ``slug``'s pages."""
        if self.md is None or self.sanitizer is None:
            self.md = markdown.Markdown(
                extensions=[*ALLOWED_EXTENSIONS, TocExtension(permalink=False, toc_depth="2-4")],
                output_format="html",
            )
            self.md.preprocessors.deregister("html_block")
            self.md.inlinePatterns.deregister("html")
            self.md.parser.blockprocessors.deregister("code")
            self.sanitizer = _Sanitizer(self.md, slug)
            self.md.treeprocessors.register(self.sanitizer, "sealbook-sanitize", 1)
        md = self.md
        self.sanitizer.slug = slug
        try:
            rendered = md.reset().convert(text)
        except BaseException:
            self.md = self.sanitizer = None
            raise
        return rendered, tuple(getattr(md, "toc_tokens", ()))


_CONVERTER = _Converter()


def _fence_end(lines: list[str], start: int) -> int:
    """Index of the closing fence of the block opening at ``start`` (or the last line)."""
    match = _FENCE_RE.fullmatch(lines[start])
    if match is None:
        return start
    marker = match.group(2)
    closing = re.compile(rf" *{re.escape(marker[0])}{{{len(marker)},}}[ \t]*")
    for index in range(start + 1, len(lines)):
        if closing.fullmatch(lines[index]):
            return index
    return len(lines) - 1


def render_prose(source: bytes, runbook: Runbook, body_start: int) -> Prose:
    """Render ``source`` (the frozen file) with the signed snippets of ``runbook`` in place.

    ``body_start`` is the 0-based line where the body begins (after any front matter).
    """
    text = source.decode("utf-8")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # An unguessable token: an author cannot write it without changing the digest it comes from.
    token = "sbsnippet" + hashlib.sha256(source).hexdigest()[:24]
    for index, snippet in enumerate(runbook.snippets):
        start = snippet.line - 1
        if not 0 <= start < len(lines) or _FENCE_RE.fullmatch(lines[start]) is None:
            continue
        end = _fence_end(lines, start)
        indent = " " * (len(lines[start]) - len(lines[start].lstrip(" ")))
        lines[start] = f"\n{indent}{token}n{index}x\n"
        for i in range(start + 1, end + 1):
            lines[i] = "\x00"  # dropped below; keeps later line numbers valid while replacing
    body = "\n".join(line for line in lines[body_start:] if line != "\x00")
    rendered, toc = _CONVERTER.convert(body, runbook.slug)
    parts: list[str | int] = []
    placed: set[int] = set()
    pos = 0
    for match in _PLACEHOLDER_RE.finditer(rendered):
        found, digits = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
        number = int(digits)
        if found != token or number in placed or number >= len(runbook.snippets):
            continue
        parts.append(rendered[pos : match.start()])
        parts.append(number)
        placed.add(number)
        pos = match.end()
    parts.append(rendered[pos:])
    # A snippet whose fence could not be found in the text still appears, at the end.
    parts.extend(i for i in range(len(runbook.snippets)) if i not in placed)
    return Prose(tuple(p for p in parts if p != ""), toc)
