"""Runbook sources: a Markdown file parsed into its title, metadata and snippets.

The contract is DESIGN.md "Runbook source"; the user-facing reference is docs/runbook-format.md.
``parse_runbook`` is pure (bytes in, model and problems out) and never raises on bad input;
``load_catalog`` does the file-system walk at the edge.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from builder.console import reduce_console
from builder.frontmatter import FrontMatterError, read_front_matter
from verifier.digests import signed_text
from verifier.errors import InputError
from verifier.manifest import EXECUTABLE_LANGUAGES

Severity = Literal["error", "warning"]

MAX_FILE_BYTES = 1024 * 1024
GROUP_FILES = frozenset({"_index.md", "index.md", "readme.md"})
CONSOLE_LANGUAGES = frozenset({"console", "shell-session"})

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_FENCE_RE = re.compile(r"( *)(`{3,}|~{3,})(.*)")
_ATX_RE = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT_RE = re.compile(r" {0,3}(=+|-+)[ \t]*")
_NOT_PARAGRAPH_RE = re.compile(r" {4}|\s*$| {0,3}(?:[-+*>#]|\d+[.)]|`{3}|~{3})")
_LANGUAGE_RE = re.compile(r"[^\s{]+")
_ATTR_RE = re.compile(
    r"""([A-Za-z_][\w.-]*)[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)'|([^\s{}]*))"""
    r"""|\#([^\s{}]+)|([^\s{}=]+)"""
)
_TRUE = frozenset({"", "true", "yes", "1", "on"})


@dataclass(frozen=True)
class Problem:
    """One finding of the parser or of ``check``, located in a file."""

    path: str
    line: int
    """1-based line in the file (1 for problems of the file as a whole)."""
    severity: Severity
    code: str
    """Stable, documented identifier (docs/runbook-format.md)."""
    message: str

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.severity}: {self.message} [{self.code}]"
        # Hostile input must not forge lines or hide text in our output.
        return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)


@dataclass(frozen=True)
class SourceSnippet:
    """One fenced code block of a runbook source."""

    id: str
    language: str
    """Lower-cased first word of the info string; ``text`` when there is none."""
    executable: bool
    line: int
    """1-based line of the opening fence in the file."""
    params: tuple[str, ...]
    """Declared parameters (``params="A B"``), sorted, without duplicates."""
    text: str
    """The signed text (``signed_text``); for a console transcript, its commands only."""
    raw: str
    """The block's content as written (fence indentation removed, line endings kept)."""
    allow_non_ascii: bool


@dataclass(frozen=True)
class SourceRunbook:
    """One runbook as read from the working tree."""

    slug: str
    path: str
    source: bytes
    title: str
    metadata: dict[str, Any]
    snippets: tuple[SourceSnippet, ...]


@dataclass(frozen=True)
class Catalog:
    """Every runbook of a folder, and the problems met reading them."""

    root: Path
    runbooks: tuple[SourceRunbook, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class _Block:
    line: int
    info: str
    raw: str
    lines: list[str]
    heading: str | None


@dataclass
class _Body:
    blocks: list[_Block] = field(default_factory=list)
    h1: str | None = None
    prose: set[int] = field(default_factory=set)
    """Indices of non-blank lines outside code blocks, title lines excluded."""
    problems: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Info:
    language: str
    explicit_id: str | None
    params: tuple[str, ...]
    allow_non_ascii: bool


def split_lines(text: str) -> list[str]:
    """``text`` split at LF, CRLF or CR, with the line endings kept."""
    return _LINE_RE.findall(text)


def _strip_ending(line: str) -> str:
    return line.rstrip("\r\n")


def _heading(lines: list[str], index: int, start: int) -> tuple[int, str] | None:
    """(level, text) when ``lines[index]`` is an ATX or setext heading (body from ``start``)."""
    atx = _ATX_RE.fullmatch(lines[index])
    if atx:
        return len(atx.group(1)), (atx.group(2) or "").strip()
    setext = _SETEXT_RE.fullmatch(lines[index])
    if setext and index > start and not _NOT_PARAGRAPH_RE.match(lines[index - 1]):
        return (1 if setext.group(1)[0] == "=" else 2), lines[index - 1].strip()
    return None


def _closing_fence(lines: list[str], start: int, marker: str) -> int | None:
    closing = re.compile(rf" *{re.escape(marker[0])}{{{len(marker)},}}[ \t]*")
    for index in range(start, len(lines)):
        if closing.fullmatch(lines[index]):
            return index
    return None


def _scan_body(parts: list[str], start: int) -> _Body:
    """Find fenced blocks, the first H1 and the prose lines, from line ``start``."""
    lines = [_strip_ending(p) for p in parts]
    body = _Body()
    heading: str | None = None
    index = start
    while index < len(lines):
        fence = _FENCE_RE.fullmatch(lines[index])
        if fence and not (fence.group(2)[0] == "`" and "`" in fence.group(3)):
            index = _take_block(body, parts, lines, index, fence, heading)
            continue
        if lines[index].strip():
            body.prose.add(index)
        found = _heading(lines, index, start)
        if found is not None:
            level, heading = found
            if level == 1 and body.h1 is None:
                body.h1 = heading
                body.prose -= {index, index - 1} if _SETEXT_RE.fullmatch(lines[index]) else {index}
        index += 1
    return body


def _take_block(
    body: _Body,
    parts: list[str],
    lines: list[str],
    index: int,
    fence: re.Match[str],
    heading: str | None,
) -> int:
    """Record the fenced block opening at ``index``; return the index after it."""
    indent, marker, info = len(fence.group(1)), fence.group(2), fence.group(3).strip()
    end = _closing_fence(lines, index + 1, marker)
    if end is None:
        body.problems.append(
            (
                index + 1,
                "fence-unclosed",
                f"code block opened with {marker} is never closed; add a closing {marker} line",
            )
        )
    stop = len(lines) if end is None else end
    content = [_dedent(p, indent) for p in parts[index + 1 : stop]]
    block = _Block(index + 1, info, "".join(content), [_strip_ending(c) for c in content], heading)
    body.blocks.append(block)
    return stop + 1


def _dedent(line: str, indent: int) -> str:
    removable = len(line) - len(line.lstrip(" "))
    return line[min(indent, removable) :]


def _attributes_json(rest: str) -> dict[str, Any] | None:
    start = rest.find("{")
    end = rest.rfind("}")
    if start < 0 or end < start or not rest[start + 1 :].lstrip().startswith('"'):
        return None
    try:
        value = json.loads(rest[start : end + 1])
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _parse_info(info: str) -> _Info:
    """Language, explicit id, params and the non-ASCII opt-in from a fence's info string."""
    language_match = _LANGUAGE_RE.match(info)
    language = language_match.group(0).lower() if language_match else ""
    rest = info[language_match.end() :] if language_match else info
    attrs: dict[str, str] = {}
    explicit: str | None = None
    data = _attributes_json(rest)
    if data is not None:
        for key, value in data.items():
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            attrs[key.replace("_", "-")] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    else:
        for match in _ATTR_RE.finditer(rest):
            key, dq, sq, bare, hash_id, word = match.groups()
            if key is not None:
                attrs[key.replace("_", "-")] = next(v for v in (dq, sq, bare) if v is not None)
            elif hash_id is not None and explicit is None:
                explicit = hash_id
            elif word is not None:
                attrs.setdefault(word.replace("_", "-"), "")
    if explicit is None and "name" in attrs:
        explicit = attrs["name"]
    params = tuple(sorted({p for p in re.split(r"[\s,]+", attrs.get("params", "")) if p}))
    allow = "allow-non-ascii" in attrs and attrs["allow-non-ascii"].lower() in _TRUE
    return _Info(language or "text", explicit, params, allow)


def heading_id(text: str | None) -> str:
    """The id derived from a heading: lower-case, non ``[a-z0-9]`` runs to ``-``, trimmed."""
    base = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return base[:100].strip("-") or "snippet"


def _assign_ids(blocks: list[tuple[_Block, _Info]]) -> list[str]:
    """Explicit ids as written; derived ids numbered ``-2``, ``-3``... avoiding every other id."""
    taken = {info.explicit_id for _, info in blocks if info.explicit_id is not None}
    ids: list[str] = []
    for block, info in blocks:
        if info.explicit_id is not None:
            ids.append(info.explicit_id)
            continue
        base = heading_id(block.heading)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        ids.append(candidate)
    return ids


def _snippet(
    block: _Block, info: _Info, snippet_id: str, notes: list[Problem], path: str
) -> SourceSnippet:
    executable = info.language in EXECUTABLE_LANGUAGES
    text = block.raw
    if info.language in CONSOLE_LANGUAGES:
        reduction = reduce_console(block.lines)
        for note in reduction.notes:
            line = block.line + 1 + note.index
            notes.append(Problem(path, line, note.severity, note.code, note.message))
        executable = reduction.has_prompt
        text = reduction.text if executable else block.raw
    return SourceSnippet(
        id=snippet_id,
        language=info.language,
        executable=executable,
        line=block.line,
        params=info.params,
        text=signed_text(text),
        raw=block.raw,
        allow_non_ascii=info.allow_non_ascii,
    )


def _decode(source: bytes, path: str) -> tuple[str | None, list[Problem]]:
    def fail(line: int, code: str, message: str) -> tuple[None, list[Problem]]:
        return None, [Problem(path, line, "error", code, message)]

    if len(source) > MAX_FILE_BYTES:
        return fail(
            1,
            "file-too-large",
            f"file is larger than {MAX_FILE_BYTES // 1024} KiB; split the runbook",
        )
    if b"\x00" in source:
        return fail(
            source[: source.index(b"\x00")].count(b"\n") + 1,
            "file-binary",
            "file contains NUL bytes: not a text file",
        )
    try:
        return source.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return fail(
            source[: exc.start].count(b"\n") + 1,
            "file-not-utf8",
            f"file is not valid UTF-8 (byte {exc.start}); save it as UTF-8",
        )


def parse_runbook(
    slug: str, source: bytes, path: str
) -> tuple[SourceRunbook | None, list[Problem]]:
    """Parse one runbook source; never raises on bad input.

    Returns (None, problems) when the file cannot be read as a runbook at all (too large,
    binary, not UTF-8, unusable front matter); otherwise the runbook and the problems found.
    """
    text, problems = _decode(source, path)
    if text is None:
        return None, problems
    parts = split_lines(text)
    lines = [_strip_ending(p) for p in parts]
    try:
        front = read_front_matter(lines)
    except FrontMatterError as exc:
        return None, [Problem(path, exc.line, "error", "front-matter-invalid", exc.message)]
    body = _scan_body(parts, front.body_start)
    problems += [Problem(path, line, "error", code, msg) for line, code, msg in body.problems]
    infos = [(block, _parse_info(block.info)) for block in body.blocks]
    ids = _assign_ids(infos)
    snippets = tuple(
        _snippet(block, info, snippet_id, problems, path)
        for (block, info), snippet_id in zip(infos, ids, strict=True)
    )
    title = front.metadata.get("title") or body.h1 or slug.rsplit("/", 1)[-1] or slug
    if not snippets and not body.prose:
        problems.append(
            Problem(
                path,
                1,
                "error",
                "runbook-empty",
                "runbook has no text and no code blocks; write it or remove it",
            )
        )
    runbook = SourceRunbook(slug, path, source, str(title), front.metadata, snippets)
    return runbook, problems


def _file_problem(path: str, code: str, message: str) -> Problem:
    return Problem(path, 1, "error", code, message)


def _read_source(root: Path, file: Path, path: str) -> bytes | Problem:
    """The bytes of one runbook file, refusing symlinks out of ``root`` and non-files."""
    try:
        target = file.resolve(strict=True)
    except (OSError, RuntimeError):
        return _file_problem(path, "symlink-broken", "symlink points nowhere (or loops)")
    if not target.is_relative_to(root):
        return _file_problem(
            path, "symlink-outside", "symlink leads outside the runbooks folder; copy the file in"
        )
    try:
        info = target.stat()
        if not stat.S_ISREG(info.st_mode):
            return _file_problem(path, "file-unreadable", "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            return _file_problem(
                path,
                "file-too-large",
                f"file is larger than {MAX_FILE_BYTES // 1024} KiB; split it",
            )
        with target.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _file_problem(path, "file-unreadable", f"cannot read: {exc.strerror or exc}")


def _walk(root: Path, problems: list[Problem]) -> list[tuple[str, Path]]:
    """(relative path, file) of every ``*.md`` under ``root``, sorted; hidden entries skipped."""
    found: list[tuple[str, Path]] = []

    def on_error(exc: OSError) -> None:
        problems.append(
            _file_problem(
                str(exc.filename), "file-unreadable", f"cannot list folder: {exc.strerror or exc}"
            )
        )

    for folder, dirs, files in os.walk(root, onerror=on_error):
        base = Path(folder)
        for name in sorted(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif (base / name).is_symlink():
                dirs.remove(name)
                path = str(base / name)
                target = (base / name).resolve()
                if not target.is_relative_to(root):
                    problems.append(
                        _file_problem(
                            path, "symlink-outside", "symlink leads outside the runbooks folder"
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            path, 1, "warning", "symlink-folder", "symlinked folder is not followed"
                        )
                    )
        dirs.sort()
        for name in sorted(files):
            wanted = name.endswith(".md") and not name.startswith(".")
            if wanted and name.lower() not in GROUP_FILES:
                found.append(((base / name).relative_to(root).as_posix(), base / name))
    return sorted(found)


def load_catalog(root: Path) -> Catalog:
    """Read and parse every runbook under ``root``.

    Raises InputError when ``root`` is missing or cannot be listed; problems with single
    files are returned in ``Catalog.problems``.
    """
    try:
        if not root.is_dir():
            raise InputError(
                str(root), "no such runbooks folder", "pass the folder with --runbooks DIR"
            )
        resolved = root.resolve(strict=True)
        with os.scandir(resolved):
            pass
    except OSError as exc:
        raise InputError(
            str(root),
            f"cannot read the runbooks folder: {exc.strerror or exc}",
            "check the path and its permissions",
        ) from None
    problems: list[Problem] = []
    runbooks: list[SourceRunbook] = []
    for relative, file in _walk(root, problems):
        path = str(file)
        source = _read_source(resolved, file, path)
        if isinstance(source, Problem):
            problems.append(source)
            continue
        runbook, found = parse_runbook(relative[: -len(".md")], source, path)
        problems += found
        if runbook is not None:
            runbooks.append(runbook)
    runbooks.sort(key=lambda r: r.slug)
    problems.sort(key=lambda p: (p.path, p.line, p.code))
    return Catalog(root, tuple(runbooks), tuple(problems))
