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


def _markdown(slug: str) -> markdown.Markdown:
    md = markdown.Markdown(
        extensions=[*ALLOWED_EXTENSIONS, TocExtension(permalink=False, toc_depth="2-4")],
        output_format="html",
    )
    md.preprocessors.deregister("html_block")
    md.inlinePatterns.deregister("html")
    md.parser.blockprocessors.deregister("code")
    md.treeprocessors.register(_Sanitizer(md, slug), "sealbook-sanitize", 1)
    return md


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
    md = _markdown(runbook.slug)
    rendered = md.convert(body)
    parts: list[str | int] = []
    placed: set[int] = set()
    pattern = re.compile(rf"<p>{token}n(\d+)x</p>|{token}n(\d+)x")
    pos = 0
    for match in pattern.finditer(rendered):
        number = int(match.group(1) or match.group(2))
        if number in placed or number >= len(runbook.snippets):
            continue
        parts.append(rendered[pos : match.start()])
        parts.append(number)
        placed.add(number)
        pos = match.end()
    parts.append(rendered[pos:])
    # A snippet whose fence could not be found in the text still appears, at the end.
    parts.extend(i for i in range(len(runbook.snippets)) if i not in placed)
    toc = tuple(getattr(md, "toc_tokens", ()))
    return Prose(tuple(p for p in parts if p != ""), toc)
