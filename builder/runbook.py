"""Runbook sources: a Markdown file parsed into its title, metadata and snippets.

The reference is docs/runbook-format.md (files, front matter, snippets, runnable or reference).
``parse_runbook`` is pure (bytes in, model and problems out) and never raises on bad input;
``load_catalog`` does the file-system walk at the edge.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from builder.console import reduce_console
from builder.frontmatter import FrontMatter, FrontMatterError, body_start, read_front_matter
from builder.markdown import Outline, outline, parse
from verifier.digests import signed_text
from verifier.errors import InputError
from verifier.files import read_regular
from verifier.manifest import EXECUTABLE_LANGUAGES, valid_slug

Severity = Literal["error", "warning"]

MAX_FILE_BYTES = 1024 * 1024
GROUP_FILES = frozenset({"_index.md", "index.md", "readme.md"})
CONSOLE_LANGUAGES = frozenset({"console", "shell-session"})

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
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
    """The block's content as written (fence indentation removed, LF line endings)."""
    allow_non_ascii: bool
    run: bool | None = None
    """``run=true`` / ``run=false`` in the fence, None when not said."""
    why_not: tuple[str, ...] = ()
    """Why a block in an executable language is a reference block (`builder.runnable`)."""
    secrets: tuple[str, ...] = ()
    """Declared parameters whose values are secret (``secret="TOKEN"``), sorted."""


@dataclass(frozen=True)
class SourceRunbook:
    """One runbook as read from the working tree."""

    slug: str
    path: str
    source: bytes
    title: str
    metadata: dict[str, Any]
    snippets: tuple[SourceSnippet, ...]
    links: tuple[str, ...] = ()
    """Image sources and link targets as written (`linked_files` resolves them)."""
    link_lines: tuple[int, ...] = ()
    """The 1-based file line of each of ``links``."""
    anchors: frozenset[str] = frozenset()
    """Ids of the page's headings (``#fragment`` targets); ``snippet-<id>`` ones are implied."""
    broken: str | None = None
    """Why the runbook cannot be released (its front matter); its body is still checked."""


@dataclass(frozen=True)
class Catalog:
    """Every runbook of a folder, and the problems met reading them."""

    root: Path
    runbooks: tuple[SourceRunbook, ...]
    problems: tuple[Problem, ...]
    files: tuple[tuple[str, bytes], ...] = ()
    """Files the runbooks link or show (images, scripts), by path in the folder: frozen too."""
    broken: tuple[SourceRunbook, ...] = ()
    """Runbooks whose front matter cannot be used: checked like the others, never released."""
    errors: frozenset[str] = frozenset()
    """Warning codes this catalog makes errors (``errors = [...]`` in ``catalog.toml``)."""


@dataclass(frozen=True)
class _Block:
    line: int
    info: str
    raw: str
    lines: list[str]
    heading: str | None


@dataclass(frozen=True)
class _Info:
    language: str
    explicit_id: str | None
    params: tuple[str, ...]
    allow_non_ascii: bool
    run: bool | None
    secrets: tuple[str, ...] = ()


def split_lines(text: str) -> list[str]:
    """``text`` split at LF, CRLF or CR, with the line endings kept."""
    return _LINE_RE.findall(text)


def _strip_ending(line: str) -> str:
    return line.rstrip("\r\n")


def _blocks(
    parts: list[str], start: int
) -> tuple[list[_Block], Outline, list[tuple[int, str, str]]]:
    """The fenced blocks of the body (from line ``start``) as CommonMark parses it."""
    body = outline(parse("".join(parts[start:])), [_strip_ending(p) for p in parts[start:]])
    blocks: list[_Block] = []
    notes: list[tuple[int, str, str]] = []
    for fence in body.fences:
        line = start + fence.line + 1
        if not fence.closed:
            notes.append(
                (
                    line,
                    "fence-unclosed",
                    "code block is never closed: CommonMark ends it at the end of its list item, "
                    "quote or file; add the closing fence",
                )
            )
        content = split_lines(fence.content)
        blocks.append(
            _Block(
                line, fence.info, fence.content, [_strip_ending(c) for c in content], fence.heading
            )
        )
    return blocks, body, notes


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
    run = None if "run" not in attrs else attrs["run"].lower() in _TRUE
    secrets = tuple(sorted({p for p in re.split(r"[\s,]+", attrs.get("secret", "")) if p}))
    return _Info(language or "text", explicit, params, allow, run, secrets)


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
            if note.severity == "warning":  # errors make the block reference (`builder.runnable`)
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
        secrets=info.secrets,
        text=signed_text(text),
        raw=block.raw,
        allow_non_ascii=info.allow_non_ascii,
        run=info.run,
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

    Returns (None, problems) when the file cannot be read as text at all (too large, binary,
    not UTF-8); otherwise the runbook and the problems found. A runbook whose front matter
    cannot be used is returned with ``broken`` set (and a ``front-matter-invalid`` error), so
    its body is still checked: one fix at a time would hide the body's problems.
    """
    text, problems = _decode(source, path)
    if text is None:
        return None, problems
    parts = split_lines(text)
    lines = [_strip_ending(p) for p in parts]
    broken: str | None = None
    try:
        front = read_front_matter(lines)
    except FrontMatterError as exc:
        problems.append(Problem(path, exc.line, "error", "front-matter-invalid", exc.message))
        broken = exc.message
        # A front matter that never closes leaves no body to check.
        front = FrontMatter({}, body_start(lines) or len(lines))
    blocks, body, notes = _blocks(parts, front.body_start)
    problems += [Problem(path, line, "warning", code, msg) for line, code, msg in notes]
    infos = [(block, _parse_info(block.info)) for block in blocks]
    ids = _assign_ids(infos)
    snippets = tuple(
        _snippet(block, info, snippet_id, problems, path)
        for (block, info), snippet_id in zip(infos, ids, strict=True)
    )
    title = front.metadata.get("title") or body.h1 or slug.rsplit("/", 1)[-1] or slug
    if "alerts" not in front.metadata:
        derived = derive_alert(body.h1 if body.h1 is not None else body.first_heading, slug)
        if derived is not None:
            front.metadata["alerts"] = [derived]
    if not snippets and not body.has_prose and broken is None:
        problems.append(
            Problem(
                path,
                1,
                "warning",
                "runbook-empty",
                "runbook has no text and no code blocks; write it or remove it",
            )
        )
    runbook = SourceRunbook(
        slug,
        path,
        source,
        str(title),
        front.metadata,
        snippets,
        body.links,
        tuple(front.body_start + line + 1 for line in body.link_lines),
        body.anchors,
        broken,
    )
    return runbook, problems


_ALERT_LIKE_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{7,127}")
_HUMP_RE = re.compile(r"[A-Z][a-z]")


def alert_like(text: str | None) -> bool:
    """``text`` looks like an alert rule's name: one CamelCase identifier of two words or more
    (``KubePodCrashLooping``, ``TargetDown``, ``etcdHighFsyncDurations``); not a product name
    such as ``PostgreSQL``."""
    return (
        text is not None
        and _ALERT_LIKE_RE.fullmatch(text) is not None
        and len(_HUMP_RE.findall(text)) >= 2
    )


def derive_alert(heading: str | None, slug: str) -> str | None:
    """The alert a runbook without ``alerts`` answers: its H1 (else, with no H1, its first
    heading) when alert-like, else its file name when alert-like (docs/runbook-format.md)."""
    if heading is not None:
        heading = heading.strip().strip("`").strip()
    stem = slug.rsplit("/", 1)[-1]
    for candidate in (heading, stem):
        if alert_like(candidate):
            return candidate
    return None


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
    broken: list[SourceRunbook] = []
    for relative, file in _walk(root, problems):
        path = str(file)
        source = _read_source(resolved, file, path)
        if isinstance(source, Problem):
            problems.append(source)
            continue
        runbook, found = parse_runbook(relative[: -len(".md")], source, path)
        problems += found
        if runbook is not None:
            (broken if runbook.broken is not None else runbooks).append(runbook)
    runbooks.sort(key=lambda r: r.slug)
    problems.sort(key=lambda p: (p.path, p.line, p.code))
    strict, errors = _settings(resolved, problems)
    files = linked_files(resolved, runbooks, problems)
    from builder.runnable import classify  # it needs this module's models

    catalog = Catalog(root, tuple(runbooks), tuple(problems), files, tuple(broken), errors)
    return classify(catalog, require_runnable=strict)


MAX_LINKED_FILE_BYTES = 8 * 1024 * 1024
_URL_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def linked_files(
    root: Path, runbooks: list[SourceRunbook], problems: list[Problem]
) -> tuple[tuple[str, bytes], ...]:
    """Relative images and files the runbooks link inside ``root``: (path, bytes), sorted.

    Runbook links (``x.md``), URLs with a scheme, fragments and targets outside the folder
    are not files to freeze. A target that is missing is left as written (the page shows
    the link); one that is not a regular file or is over 8 MiB is a warning.
    """
    found: dict[str, bytes] = {}
    for runbook in runbooks:
        base = posixpath.dirname(runbook.slug)
        for target in runbook.links:
            path = target.split("#", 1)[0].split("?", 1)[0]
            if not path or path.startswith("/") or _URL_SCHEME_RE.match(path):
                continue
            rel = posixpath.normpath(posixpath.join(base, path))
            if rel.startswith("..") or rel.endswith(".md") or rel in found:
                continue
            if not valid_slug(rel):
                continue
            file = root / rel
            try:
                if not file.resolve().is_relative_to(root) or not file.is_file():
                    continue  # a link out of the folder is never frozen
                size = file.stat().st_size
                if size > MAX_LINKED_FILE_BYTES:
                    problems.append(
                        Problem(
                            runbook.path,
                            1,
                            "warning",
                            "linked-file-too-large",
                            f"{rel} is over 8 MiB: it is not frozen into the release",
                        )
                    )
                    continue
                found[rel] = read_regular(file, MAX_LINKED_FILE_BYTES)
            except OSError:
                continue
    return tuple(sorted(found.items()))


CATALOG_SETTINGS = "catalog.toml"
"""Optional settings of a runbooks folder: ``require_runnable = true`` makes every block in an
executable language have to run as signed (the sample catalog does); ``errors = ["code", ...]``
makes those warnings errors (any code `builder.lint.ESCALATABLE` lists)."""


def _settings(root: Path, problems: list[Problem]) -> tuple[bool, frozenset[str]]:
    """(require_runnable, warning codes made errors) of the folder's ``catalog.toml``."""
    import tomllib

    from builder.lint import ESCALATABLE

    path = root / CATALOG_SETTINGS
    if not path.is_file():
        return False, frozenset()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        problems.append(
            _file_problem(str(path), "catalog-settings-invalid", f"cannot read it: {exc}")
        )
        return True, ESCALATABLE  # fail closed: the strictest reading
    value = data.get("require_runnable", False)
    errors = data.get("errors", [])
    unknown = sorted(set(data) - {"require_runnable", "errors"})
    valid = isinstance(errors, list) and all(isinstance(c, str) for c in errors)
    bad = sorted(set(errors) - ESCALATABLE) if valid else []
    if not isinstance(value, bool) or unknown or not valid or bad:
        what = f" ({', '.join(bad)} cannot be made errors)" if bad else ""
        problems.append(
            _file_problem(
                str(path),
                "catalog-settings-invalid",
                "expected only `require_runnable = true|false` and `errors = [warning codes]`"
                + what,
            )
        )
        return True, ESCALATABLE
    return value, frozenset(errors)
