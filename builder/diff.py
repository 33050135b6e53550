"""What the next release would sign, compared with the newest release.

``diff_manifests`` is pure: two manifests in (the newest release's, or None, and the one
``builder.release.freeze`` makes from the working tree), a ``CatalogDiff`` out. Snippets are
matched in three passes:

1. by id: the same id in both is the same snippet (its text, kind, language or params may change);
2. by digest among the rest: the same signed text under a new id is a rename;
3. what is left is removed (old) or added (new).

Line numbers are not compared (any edit above a block moves it); prose is, through the
runbook's source digest. The rendering of a diff for people and tools is in
``builder.commands.diff``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from verifier.manifest import LinkedFile, Manifest, Runbook, Snippet

SnippetStatus = Literal["added", "removed", "changed", "renamed"]


@dataclass(frozen=True)
class SnippetDiff:
    """One snippet that differs across the two releases (unchanged ones are not listed).

    ``changed``: same id, and its text (``text_diff``), kind, language or params differ;
    ``renamed``: same signed text under a new id (its kind or params may differ too).
    """

    id: str
    """The id in the next release (the old id for a removed snippet)."""
    status: SnippetStatus
    old_id: str | None = None
    """The id in the newest release when it was renamed."""
    text_diff: str = ""
    """Unified diff of the signed text (``changed`` only)."""
    kind: tuple[str, str] | None = None
    """(old, new) of ``executable``/``reference`` when it flipped."""
    language: tuple[str, str] | None = None
    params: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    snippet: Snippet | None = None
    """The snippet as it would be signed (as it was, for a removed one)."""

    @property
    def attributes_changed(self) -> bool:
        return self.kind is not None or self.language is not None or self.params is not None


@dataclass(frozen=True)
class RunbookDiff:
    """One runbook that is added, changed or retired."""

    slug: str
    status: Literal["added", "changed", "retired"]
    title: str
    snippets: tuple[SnippetDiff, ...] = ()
    front_matter: tuple[tuple[str, Any, Any], ...] = ()
    """(key, old, new), ``None`` for a key absent on one side; the title counts as a key."""
    prose_changed: bool = False
    """The source changed beyond its snippets and front matter (text, headings, links)."""


@dataclass(frozen=True)
class FileDiff:
    """A linked file (image, script) frozen into the release: added, changed or removed."""

    path: str
    status: Literal["added", "changed", "removed"]


@dataclass(frozen=True)
class CatalogDiff:
    """Everything the next release would sign differently from ``base``."""

    base: str | None
    """Version of the newest release, None when there is none."""
    runbooks: tuple[RunbookDiff, ...]
    files: tuple[FileDiff, ...]

    @property
    def changed(self) -> bool:
        return bool(self.runbooks or self.files)

    def count(self, status: str) -> int:
        return sum(1 for r in self.runbooks if r.status == status)


def _kind(snippet: Snippet) -> str:
    return "executable" if snippet.executable else "reference"


def _pair(old: Snippet, new: Snippet) -> SnippetDiff | None:
    renamed = old.id != new.id
    text_diff = ""
    if old.digest != new.digest:
        text_diff = "".join(
            difflib.unified_diff(
                old.text.splitlines(keepends=True),
                new.text.splitlines(keepends=True),
                fromfile=f"{old.id} (signed)",
                tofile=f"{new.id} (next)",
            )
        )
    kind = (_kind(old), _kind(new)) if old.executable != new.executable else None
    language = (old.language, new.language) if old.language != new.language else None
    params = (old.params, new.params) if old.params != new.params else None
    if not renamed and not text_diff and kind is None and language is None and params is None:
        return None
    status: SnippetStatus = "renamed" if renamed else "changed"
    return SnippetDiff(
        new.id,
        status,
        old.id if renamed else None,
        text_diff,
        kind,
        language,
        params,
        new,
    )


def diff_snippets(old: tuple[Snippet, ...], new: tuple[Snippet, ...]) -> list[SnippetDiff]:
    """The snippet changes of one runbook, in the order of the next release's source."""
    old_by_id = {s.id: s for s in old}
    pairs: dict[str, Snippet] = {}  # new id -> old snippet
    for snippet in new:
        if snippet.id in old_by_id:
            pairs[snippet.id] = old_by_id[snippet.id]
    # (2) same text, new id: a rename (each old snippet matched at most once, in order)
    unmatched_old = [s for s in old if s.id not in pairs]
    for snippet in new:
        if snippet.id in pairs:
            continue
        twin = next((s for s in unmatched_old if s.digest == snippet.digest), None)
        if twin is not None:
            pairs[snippet.id] = twin
            unmatched_old.remove(twin)
    found: list[SnippetDiff] = []
    for snippet in new:
        if snippet.id not in pairs:
            found.append(SnippetDiff(snippet.id, "added", snippet=snippet))
            continue
        change = _pair(pairs[snippet.id], snippet)
        if change is not None:
            found.append(change)
    found += [SnippetDiff(s.id, "removed", snippet=s) for s in unmatched_old]
    return found


def _front_matter(old: Runbook, new: Runbook) -> list[tuple[str, Any, Any]]:
    before = {"title": old.title, **old.metadata}
    after = {"title": new.title, **new.metadata}
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _runbook(old: Runbook, new: Runbook) -> RunbookDiff | None:
    if old.digest == new.digest and old.snippets == new.snippets:
        return None  # same bytes (a classification can change with the catalog settings)
    snippets = diff_snippets(old.snippets, new.snippets)
    front = _front_matter(old, new)
    prose = old.digest != new.digest and not snippets and not front
    if not snippets and not front and not prose:
        return None  # only line numbers moved, which a reader never sees as a change
    return RunbookDiff(new.slug, "changed", new.title, tuple(snippets), tuple(front), prose)


def _files(old: tuple[LinkedFile, ...], new: tuple[LinkedFile, ...]) -> list[FileDiff]:
    before = {f.path: f.digest for f in old}
    after = {f.path: f.digest for f in new}
    found = [
        FileDiff(path, "added" if path not in before else "changed")
        for path in sorted(after)
        if before.get(path) != after[path]
    ]
    found += [FileDiff(path, "removed") for path in sorted(set(before) - set(after))]
    return sorted(found, key=lambda f: f.path)


def diff_manifests(base: Manifest | None, next_release: Manifest) -> CatalogDiff:
    """What ``next_release`` signs differently from ``base`` (None: no release yet)."""
    old = {rb.slug: rb for rb in base.runbooks} if base is not None else {}
    found: list[RunbookDiff] = []
    for runbook in next_release.runbooks:
        before = old.get(runbook.slug)
        if before is None:
            added = tuple(SnippetDiff(s.id, "added", snippet=s) for s in runbook.snippets)
            found.append(RunbookDiff(runbook.slug, "added", runbook.title, added))
            continue
        change = _runbook(before, runbook)
        if change is not None:
            found.append(change)
    current = {rb.slug for rb in next_release.runbooks}
    for slug in sorted(set(old) - current):
        found.append(RunbookDiff(slug, "retired", old[slug].title))
    files = _files(base.files if base is not None else (), next_release.files)
    return CatalogDiff(
        base.version if base is not None else None,
        tuple(sorted(found, key=lambda r: r.slug)),
        tuple(files),
    )


def _printable(text: str) -> str:
    """Hostile text cannot forge lines or hide characters in our output."""
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in text)


def _params(names: tuple[str, ...]) -> str:
    return " ".join(names) if names else "(none)"


def _described(snippet: Snippet) -> str:
    return f"{_kind(snippet)}, {snippet.language}"


def snippet_phrases(change: SnippetDiff, code: Any = str) -> list[str]:
    """What happened to one snippet, in short phrases; ``code`` formats a literal."""
    phrases: list[str] = []
    if change.status == "added" and change.snippet is not None:
        phrases.append(f"added ({_described(change.snippet)})")
    elif change.status == "removed" and change.snippet is not None:
        phrases.append(f"removed (was {_described(change.snippet)})")
    elif change.status == "renamed":
        phrases.append(f"renamed from {code(change.old_id or '')} (same text)")
    if change.text_diff:
        phrases.append("text changed")
    if change.kind is not None:
        phrases.append(f"{change.kind[0]} -> {change.kind[1]}")
    if change.language is not None:
        phrases.append(f"language {code(change.language[0])} -> {code(change.language[1])}")
    if change.params is not None:
        before, after = change.params
        phrases.append(f"params {code(_params(before))} -> {code(_params(after))}")
    return phrases


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, ensure_ascii=False)


def summary(diff: CatalogDiff) -> str:
    """One line: how many runbooks changed, were added and retired."""
    parts = [
        f"{diff.count('changed')} changed",
        f"{diff.count('added')} added",
        f"{diff.count('retired')} retired",
    ]
    files = f", {len(diff.files)} linked files changed" if diff.files else ""
    return f"runbooks {', '.join(parts)}{files}"


def _against(diff: CatalogDiff) -> str:
    return f"release {diff.base}" if diff.base is not None else "no release (none yet)"


def render_text(diff: CatalogDiff, runbooks: str) -> str:
    """The diff for a terminal: a header, then one block per runbook."""
    if not diff.changed:
        return (
            _printable(
                f"no changes: the next release of {runbooks} would sign exactly the runbooks, "
                f"snippets and files of {_against(diff)}"
            )
            + "\n"
        )
    out = [f"next release of {runbooks} against {_against(diff)}: {summary(diff)}"]
    mark = {"added": "+", "changed": "~", "retired": "-"}
    for runbook in diff.runbooks:
        count = ""
        if runbook.status == "added":
            count = f" ({len(runbook.snippets)} snippets)"
        out.append(
            f"{mark[runbook.status]} {runbook.status} {runbook.slug}: {runbook.title}{count}"
        )
        if runbook.status != "changed":
            continue
        for change in runbook.snippets:
            out.append(f"    snippet {change.id}: {'; '.join(snippet_phrases(change))}")
            out += [f"      {line}" for line in change.text_diff.splitlines()]
        for key, before, after in runbook.front_matter:
            out.append(f"    front matter {key}: {_value(before)} -> {_value(after)}")
        if runbook.prose_changed:
            out.append("    text changed outside snippets and front matter")
    file_mark = {"added": "+", "changed": "~", "removed": "-"}
    out += [f"{file_mark[f.status]} file {f.path} {f.status}" for f in diff.files]
    return "".join(_printable(line) + "\n" for line in out)


def _code(text: str) -> str:
    """A Markdown code span holding ``text`` whatever backticks it has."""
    ticks = "`" * (max(_backtick_runs(text), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{_printable(text)}{pad}{ticks}"


def _backtick_runs(text: str) -> list[int]:
    return [len(m) for m in re.findall(r"`+", text)]


_MARKDOWN_SPECIAL = set("\\`*_{}[]<>()#+-!|~&")


def _escape(text: str) -> str:
    """Prose for a pull-request comment: markup characters shown as themselves."""
    return "".join("\\" + c if c in _MARKDOWN_SPECIAL else c for c in _printable(text))


def render_markdown(diff: CatalogDiff, runbooks: str) -> str:
    """The diff as a pull-request comment (GitHub-flavoured Markdown)."""
    title = f"### sealbook diff: next release of {_code(runbooks)} against "
    title += f"release {_code(diff.base)}" if diff.base is not None else "no release (none yet)"
    if not diff.changed:
        return f"{title}\n\nNo changes: the next release would sign exactly what it signed.\n"
    out = [title, "", _escape(summary(diff)) + ".", ""]
    for runbook in diff.runbooks:
        heading = (
            f"#### {runbook.status.capitalize()} {_code(runbook.slug)}: {_escape(runbook.title)}"
        )
        out += [heading, ""]
        if runbook.status == "added":
            out += [f"{len(runbook.snippets)} snippets.", ""]
        if runbook.status != "changed":
            continue
        for change in runbook.snippets:
            out.append(f"- snippet {_code(change.id)}: {'; '.join(snippet_phrases(change, _code))}")
            if change.text_diff:
                fence = "`" * max(3, max(_backtick_runs(change.text_diff), default=0) + 1)
                body = [f"  {line}" if line else "" for line in _printable_lines(change.text_diff)]
                out += [f"  {fence}diff", *body, f"  {fence}"]
        for key, before, after in runbook.front_matter:
            out.append(
                f"- front matter {_code(key)}: {_code(_value(before))} -> {_code(_value(after))}"
            )
        if runbook.prose_changed:
            out.append("- text changed outside snippets and front matter")
        out.append("")
    if diff.files:
        out += [f"- linked file {_code(f.path)} {f.status}" for f in diff.files]
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def _printable_lines(text: str) -> list[str]:
    return [_printable(line) for line in text.splitlines()]


def to_json(diff: CatalogDiff) -> dict[str, Any]:
    """The diff as a JSON document (``sealbook.diff-report/v1``)."""

    def pair(value: tuple[Any, Any] | None) -> dict[str, Any] | None:
        return None if value is None else {"old": value[0], "new": value[1]}

    def snippet(change: SnippetDiff) -> dict[str, Any]:
        return {
            "id": change.id,
            "status": change.status,
            "old_id": change.old_id,
            "text_diff": change.text_diff,
            "kind": pair(change.kind),
            "language": pair(change.language),
            "params": None
            if change.params is None
            else {"old": list(change.params[0]), "new": list(change.params[1])},
            "digest": change.snippet.digest if change.snippet is not None else None,
        }

    return {
        "schema": "sealbook.diff-report/v1",
        "base": diff.base,
        "changed": diff.changed,
        "runbooks": [
            {
                "slug": r.slug,
                "status": r.status,
                "title": r.title,
                "snippets": [snippet(s) for s in r.snippets],
                "front_matter": [{"key": k, "old": o, "new": n} for k, o, n in r.front_matter],
                "prose_changed": r.prose_changed,
            }
            for r in diff.runbooks
        ],
        "files": [{"path": f.path, "status": f.status} for f in diff.files],
        "summary": {
            "added": diff.count("added"),
            "changed": diff.count("changed"),
            "retired": diff.count("retired"),
            "files": len(diff.files),
        },
    }
