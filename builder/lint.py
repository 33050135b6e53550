"""``sealbook check``: every rule a runbook catalog must pass before it can be released.

Rules beyond the parser's own (docs/runbook-format.md lists every code):

1. slugs: valid characters, unique regardless of case;
2. snippet ids: valid and unique; declared params: valid names;
3. Trojan Source guard: bidi controls, invisible and control characters are errors in slugs,
   ids and snippets; non-ASCII is an error in executable code, a warning in shell comments
   and reference blocks, and nothing at all in a snippet that opts in with ``allow-non-ascii``;
4. runnable or reference (``bash -n``, prompts, placeholders) is decided when the catalog is
   loaded (`builder.runnable`); its warnings and errors are among the catalog's problems;
5. intent (`builder.intent`): near-miss languages, malformed fence attributes, parameters,
   front-matter keys, broken links, commands that wait for input, secret literals.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Iterator

from builder.console import reduce_console
from builder.runbook import (
    CONSOLE_LANGUAGES,
    Catalog,
    Problem,
    SourceRunbook,
    SourceSnippet,
)
from verifier.manifest import PARAM_RE, valid_slug, valid_snippet_id

BASH_TIMEOUT_SECONDS = 20
_BIDI = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
_BLANK_LETTERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800})
# Default-ignorable marks (Mn, so not caught by category): they render as nothing.
_IGNORABLE_MARKS = frozenset({0x034F, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180F})
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_LANGUAGE_WORD_RE = re.compile(r"[A-Za-z0-9_+.#-]{1,32}")
_BASH_LINE_RE = re.compile(r"/dev/stdin: line (\d+): (.*)")
_WHAT = {
    "bidi-control": "bidirectional control character",
    "invisible-character": "invisible character",
    "control-character": "control character",
}


def danger(ch: str) -> str | None:
    """The Trojan Source code of a character that must never reach a snippet, or None."""
    cp = ord(ch)
    if cp in _BIDI:
        return "bidi-control"
    category = unicodedata.category(ch)
    if category == "Cc":
        return None if ch in "\t\n\r" else "control-character"
    if (
        category in ("Cf", "Zl", "Zp", "Co", "Cn", "Cs")
        or cp in _BLANK_LETTERS
        or cp in _IGNORABLE_MARKS
        # Supplementary variation selectors can smuggle hidden bytes; FE00-FE0F also
        # follow every emoji, so they count as plain non-ASCII.
        or 0xE0100 <= cp <= 0xE01EF
    ):
        return "invisible-character"
    return None


def visible(text: str, limit: int = 160) -> str:
    """``text`` with every non-ASCII or non-printable character shown as ``<U+XXXX>``."""
    shown = "".join(
        c if " " <= c <= "~" else ("\\t" if c == "\t" else f"<U+{ord(c):04X}>") for c in text
    )
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def _danger_in(text: str) -> str | None:
    return next((code for code in map(danger, text) if code is not None), None)


def _check_names(runbook: SourceRunbook) -> Iterator[Problem]:
    """(1), (2), (3): the slug, ids and params of one runbook."""
    path = runbook.path
    code = _danger_in(runbook.slug)
    if code is not None:
        yield Problem(path, 1, "error", code, f"{_WHAT[code]} in slug: {visible(runbook.slug)}")
    elif not valid_slug(runbook.slug):
        yield Problem(
            path,
            1,
            "error",
            "slug-invalid",
            f"slug {visible(runbook.slug)!r} is not [A-Za-z0-9._/-] without '..'; rename the file",
        )
    seen: dict[str, int] = {}
    for snippet in runbook.snippets:
        yield from _check_id(runbook, snippet, seen)
        if (
            _LANGUAGE_WORD_RE.fullmatch(snippet.language) is None
            and _danger_in(snippet.language) is None
        ):
            # A look-alike word (`bаsh` with a Cyrillic a) would silently make an
            # executable block a reference block; markup in it reaches class names.
            yield Problem(
                path,
                snippet.line,
                "warning",
                "language-invalid",
                f"code block language {visible(snippet.language)!r} is not [A-Za-z0-9_+.#-] (at most 32)",
            )
        bad = [p for p in snippet.params if PARAM_RE.fullmatch(p) is None]
        if bad:
            yield Problem(
                path,
                snippet.line,
                "error",
                "params-invalid",
                f"parameter names {visible(' '.join(bad))} are not [A-Z_][A-Z0-9_]*",
            )
        undeclared = [p for p in snippet.secrets if p not in snippet.params]
        if undeclared:
            yield Problem(
                path,
                snippet.line,
                "error",
                "secret-undeclared",
                f"secret {visible(' '.join(undeclared))} is not among params= "
                f"({visible(' '.join(snippet.params)) or 'none'}); declare it in params= too",
            )


def _check_id(
    runbook: SourceRunbook, snippet: SourceSnippet, seen: dict[str, int]
) -> Iterator[Problem]:
    path, line = runbook.path, snippet.line
    code = _danger_in(snippet.id)
    if code is not None:
        yield Problem(
            path, line, "error", code, f"{_WHAT[code]} in snippet id {visible(snippet.id)}"
        )
    elif not valid_snippet_id(snippet.id):
        yield Problem(
            path,
            line,
            "error",
            "id-invalid",
            f"snippet id {visible(snippet.id)!r} is not [A-Za-z0-9._-] (at most 128, no '..')",
        )
    if snippet.id in seen:
        yield Problem(
            path,
            line,
            "error",
            "id-duplicate",
            f"snippet id {visible(snippet.id)!r} is already used on line {seen[snippet.id]}",
        )
    seen.setdefault(snippet.id, line)


def _case_collisions(catalog: Catalog) -> Iterator[Problem]:
    """(1): slugs equal but for case cannot live on a case-insensitive file system."""
    first: dict[str, SourceRunbook] = {}
    for runbook in catalog.runbooks:
        other = first.setdefault(runbook.slug.lower(), runbook)
        if other is not runbook:
            yield Problem(
                runbook.path,
                1,
                "error",
                "slug-case-collision",
                f"slug {visible(runbook.slug)!r} differs only in case from {other.path}",
            )


def comment_start(line: str) -> int:
    """Index of an unquoted shell comment ``#`` in ``line`` (a heuristic), else ``len(line)``."""
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;|&()"):
            return i
        i += 1
    return len(line)


def _code_lines(snippet: SourceSnippet) -> list[tuple[int, str, str]]:
    """(0-based raw line, shown text, text to judge) of every line of the snippet's content."""
    raw = _LINE_BREAK_RE.split(snippet.raw.rstrip("\r\n")) if snippet.raw else []
    if snippet.executable and snippet.language in CONSOLE_LANGUAGES:
        return [(i, raw[i], text) for i, text in reduce_console(raw).commands]
    return [(i, line, line) for i, line in enumerate(raw)]


def _check_characters(
    runbook: SourceRunbook, snippet: SourceSnippet, fence: str
) -> Iterator[Problem]:
    """(3): the Trojan Source guard over one snippet and its opening ``fence`` line."""
    path = runbook.path
    raw = _LINE_BREAK_RE.split(snippet.raw)
    # The whole fence line: a bidi control after the language could reorder an id or
    # hide an opt-in from a reviewer. The id itself is reported by `_check_id`.
    judged = [(fence.replace(snippet.id, ""), fence), *((line, line) for line in raw)]
    for index, (line, shown) in enumerate(judged):
        for code in sorted({c for c in map(danger, line) if c is not None}):
            where = snippet.line + index
            # Bidi controls reorder what a reviewer reads: always a hazard. Other invisible or
            # control characters in a block that never runs (`builder.runnable` made it a
            # reference block) are shown marked on the page: a warning.
            hazard = code == "bidi-control" or index == 0 or snippet.executable
            yield Problem(
                path,
                where,
                "error" if hazard else "warning",
                code,
                f"{_WHAT[code]}: {visible(shown)}"
                + ("" if hazard else " (the block is a reference block, never run)"),
            )
    if snippet.allow_non_ascii:
        return
    warned: dict[str, list[int]] = {}
    for index, shown, text in _code_lines(snippet):
        if text.isascii() or _danger_in(shown) is not None:
            continue  # a dangerous character is reported above, once
        if not snippet.executable:
            warned.setdefault("non-ascii-reference", []).append(index)
        elif text[: comment_start(text)].isascii():
            warned.setdefault("non-ascii-comment", []).append(index)
        else:
            yield Problem(
                path,
                snippet.line + 1 + index,
                "error",
                "non-ascii-code",
                f"non-ASCII character in executable code (use ASCII, or opt in with "
                f"allow-non-ascii): {visible(shown)}",
            )
    for code, indices in warned.items():
        more = f" (and {len(indices) - 1} more lines)" if len(indices) > 1 else ""
        kind = "a shell comment" if code == "non-ascii-comment" else "a reference block"
        shown = visible(_line(snippet, indices[0]))
        yield Problem(
            path,
            snippet.line + 1 + indices[0],
            "warning",
            code,
            f"non-ASCII character in {kind}{more}: {shown}",
        )


def _line(snippet: SourceSnippet, index: int) -> str:
    return _LINE_BREAK_RE.split(snippet.raw)[index]


ESCALATABLE = frozenset(
    {
        *("language-near-miss", "fence-attributes-malformed", "fence-attribute-unknown"),
        *("param-undeclared", "param-unused", "param-unguarded", "front-matter-unknown-key"),
        *("link-broken", "ping-no-count", "openssl-stdin", "journalctl-pager", "secret-literal"),
        *("fence-unclosed", "console-root-prompt", "runbook-empty", "language-invalid"),
        *("non-ascii-comment", "non-ascii-reference", "bash-warning", "symlink-folder"),
    }
)
"""Warning codes a catalog can make errors (``errors = [...]`` in ``catalog.toml``). The reasons
a block is reference are made errors by ``require_runnable`` instead."""


def check_catalog(catalog: Catalog) -> list[Problem]:
    """Every problem of ``catalog``: the parser's and the lint rules', sorted by path and line.

    Warnings whose code the catalog lists in ``errors`` are errors.
    """
    from builder.intent import check_intent

    problems = list(catalog.problems)
    problems += _case_collisions(catalog)
    problems += check_intent(catalog)
    for runbook in catalog.runbooks + catalog.broken:
        problems += _check_names(runbook)
        source_lines = _LINE_BREAK_RE.split(runbook.source.decode("utf-8"))
        for snippet in runbook.snippets:
            fence = source_lines[snippet.line - 1] if snippet.line <= len(source_lines) else ""
            problems += _check_characters(runbook, snippet, fence)
    if catalog.errors:
        problems = [
            dataclasses.replace(p, severity="error") if p.code in catalog.errors else p
            for p in problems
        ]
    return sorted(problems, key=lambda p: (p.path, p.line, p.severity, p.code, p.message))
