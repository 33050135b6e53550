"""Lint rules that catch what the author meant: mistakes that silently change what runs.

Each rule is a warning naming the line, the problem and the fix (docs/runbook-format.md,
"Problem codes"):

1. a near-miss language (```` ```bahs ````: did you mean bash?) makes a block a reference block;
2. malformed fence attributes: an unclosed ``{``, an unbalanced quote, bad JSON; a word after
   ``#id`` (``{#rollout status}`` is the id ``rollout``); a key close to a known one;
3. parameters: ``${NAME:?}`` used but not declared in ``params=``, declared but never used,
   used without ``:?``;
4. front matter: an unknown key close to a known one (``alert:`` for ``alerts:``);
5. links to runbooks (``x.md``), files or ``#anchors`` that do not exist;
6. commands that wait for input or leak: ``ping`` without ``-c``, ``openssl s_client``
   without ``</dev/null``, ``journalctl`` without ``--no-pager``; a secret written as a
   literal in an assignment.

Pure: a catalog in, problems out (the file system is consulted only for link targets).
"""

from __future__ import annotations

import difflib
import functools
import json
import posixpath
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

from builder.console import heredoc_terminators, reduce_console
from builder.frontmatter import KNOWN_KEYS
from builder.lint import comment_start
from builder.runbook import (
    CONSOLE_LANGUAGES,
    Catalog,
    Problem,
    SourceRunbook,
    SourceSnippet,
)
from verifier.manifest import EXECUTABLE_LANGUAGES, PARAM_RE

CODES = {
    "language-near-miss": "a code block's language is one letter or two away from an executable one",
    "fence-attributes-malformed": "a fence's `{...}` attributes: unclosed brace, unbalanced quote, bad JSON",
    "fence-attribute-unknown": "a word in a fence's `{...}` that is no attribute (after `#id`), or a key close to a known one",
    "param-undeclared": "a parameter is used but not declared in `params=`",
    "param-unused": "a declared parameter is never used",
    "param-unguarded": "a declared parameter is used without `:?`",
    "front-matter-unknown-key": "an unknown front-matter key close to a known one",
    "link-broken": "a link to a runbook, file or anchor that does not exist",
    "ping-no-count": "`ping` without `-c`/`-w` never ends",
    "openssl-stdin": "`openssl s_client` without `</dev/null` waits for input",
    "journalctl-pager": "`journalctl` without `--no-pager` waits in a pager",
    "secret-literal": "a secret written as a literal in an assignment",
}
"""Every code this module reports (the docs' table is tested against it)."""

_RUNNABLE = ("bash", "shell", "console", "shell-session")
_OTHER_SHELLS = frozenset(
    {"zsh", "ksh", "csh", "tcsh", "fish", "dash", "ash", "ssh", "bats", "batch", "base", "hash"}
)
_FENCE_RE = re.compile(r"[ \t]*(`{3,}|~{3,})(.*)")
_KNOWN_ATTRIBUTES = ("name", "params", "run", "allow-non-ascii")
_FLAGS = frozenset({"allow-non-ascii", "allow_non_ascii", "run"})
_TOKEN_RE = re.compile(
    r"""\s*(?:([A-Za-z_][\w.-]*)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'{}]*)|\#(\S+)|\.(\S+)|(\S+))"""
)
_REF_RE = re.compile(r"\$(?:\{(#?)([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGN_RE = re.compile(
    r"(?:^|[\s;&|(])(?:(?:export|local|readonly|declare(?:\s+-\w+)*)\s+)?([A-Za-z_]\w*)\+?="
)
_READ_RE = re.compile(
    r"\b(?:read|mapfile|readarray|getopts)\b((?:\s+-\w+(?:\s+\S+)?)*)((?:\s+[A-Za-z_]\w*)+)"
)
_FOR_RE = re.compile(r"\bfor\s+([A-Za-z_]\w*)\s+in\b")
_SECRET_NAME_RE = re.compile(
    r"(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY|ACCESS_KEY|CREDENTIALS?)", re.I
)
_SECRET_ASSIGN_RE = re.compile(
    r"(?:^|[\s;&|(])(?:export\s+)?([A-Za-z_]\w*)=(\"[^\"$`]+\"|'[^']+'|[^\s\"'$`;|&()]+)"
)
_JOURNALCTL_QUIET = (
    *("--vacuum-", "--disk-usage", "--rotate", "--flush", "--sync", "--verify"),
    *("--list-boots", "--header", "--field", "-F", "-N", "--relinquish-var", "--setup-keys"),
)
"""journalctl options that print a line or two (or nothing): no pager."""
_URL_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SPECIAL_RE = re.compile(r"[\\'\"#]")
_SEGMENT_RE = re.compile(r"\|\||&&|[;|&]")


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (an adjacent swap counts as one edit)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


@functools.lru_cache(maxsize=4096)
def near_miss(word: str, known: tuple[str, ...] | frozenset[str]) -> str | None:
    """The known word ``word`` is a typo of (one edit, two for longer words), else None."""
    if word in known:
        return None
    best = None
    for candidate in sorted(known):
        limit = 1 if len(candidate) <= 5 else 2
        d = distance(word.lower(), candidate)
        if d <= limit and (best is None or d < best[0]):
            best = (d, candidate)
    return best[1] if best else None


def _known_language(word: str) -> bool:
    from pygments.lexers import find_lexer_class_by_name
    from pygments.util import ClassNotFound

    try:
        find_lexer_class_by_name(word)
    except ClassNotFound:
        return False
    return True


def _language(runbook: SourceRunbook, snippet: SourceSnippet) -> Iterator[Problem]:
    """(1) ```bahs: did you mean bash?"""
    word = snippet.language
    if word in EXECUTABLE_LANGUAGES or word in _OTHER_SHELLS:
        return
    guess = near_miss(word, _RUNNABLE)
    if guess is None or _known_language(word):
        return
    yield Problem(
        runbook.path,
        snippet.line,
        "warning",
        "language-near-miss",
        f"code block language {word!r} is not one sealbook runs, so the block is a reference "
        f"block: did you mean {guess}? (write ```{guess}, or run=false to keep it reference)",
    )


def _attributes(runbook: SourceRunbook, snippet: SourceSnippet, fence: str) -> Iterator[Problem]:
    """(2) what a fence's ``{...}`` says that sealbook would read otherwise than meant."""
    match = _FENCE_RE.match(fence)
    info = match.group(2) if match else ""
    start = info.find("{")
    if start < 0:
        return

    def problem(code: str, message: str) -> Problem:
        return Problem(runbook.path, snippet.line, "warning", code, message)

    end = info.rfind("}")
    if end < start:
        yield problem(
            "fence-attributes-malformed",
            f"fence attributes {info[start:]!r} are never closed: add the closing `}}`",
        )
        return
    inside = info[start + 1 : end]
    if inside.lstrip().startswith('"'):
        try:
            json.loads("{" + inside + "}", strict=False)  # control characters: `builder.lint`
        except ValueError:
            yield problem(
                "fence-attributes-malformed",
                "fence attributes start like JSON but are not valid JSON: "
                'write {"name": "my-id"} with double quotes, or {#my-id}',
            )
        return
    seen_id: str | None = None
    for token in _TOKEN_RE.finditer(inside):
        key, hash_id, _dot, word = token.groups()
        if word is not None and ('"' in word or "'" in word):
            yield problem(
                "fence-attributes-malformed",
                f"unbalanced quote in fence attributes near {word!r}: close the quote "
                '(params="A B")',
            )
            return
        if hash_id is not None:
            if seen_id is not None:
                yield problem(
                    "fence-attribute-unknown",
                    f"second id #{hash_id} in the fence: the id is {seen_id!r}; keep one",
                )
            seen_id = seen_id or hash_id
        elif word is not None and word.replace("_", "-") not in _FLAGS:
            if seen_id is not None:
                fix = f"the id is {seen_id!r}; an id has no spaces: write {{#{seen_id}-{word}}}"
            else:
                fix = "it is not an attribute (name=, params=, run=, allow-non-ascii): remove it"
            yield problem("fence-attribute-unknown", f"word {word!r} in fence attributes: {fix}")
        elif key is not None:
            guess = near_miss(key.replace("_", "-"), _KNOWN_ATTRIBUTES)
            if guess is not None:
                yield problem(
                    "fence-attribute-unknown",
                    f"fence attribute {key!r} is not one sealbook reads: did you mean {guess}=?",
                )


# (3) parameters


def _code_lines(snippet: SourceSnippet) -> list[tuple[int, str]] | None:
    """(file line, text) of the shell code of a block in an executable language, or None."""
    raw = snippet.raw.rstrip("\n").split("\n") if snippet.raw else []
    if snippet.language in CONSOLE_LANGUAGES:
        reduction = reduce_console(raw)
        if not reduction.has_prompt:
            return None
        return [(snippet.line + 1 + i, text) for i, text in reduction.commands]
    return [(snippet.line + 1 + i, text) for i, text in enumerate(raw)]


def _scan_line(line: str, quote: str) -> tuple[str, str, str]:
    """(code, expanded text, quote open at its end) of one shell line, in quote ``quote``."""
    if not quote and not _SPECIAL_RE.search(line):
        return line, line, ""  # the common line: nothing quoted, no comment
    plain: list[str] = []
    live: list[str] = []
    j = 0
    while j < len(line):
        ch = line[j]
        if quote == "'":
            quote = "" if ch == "'" else quote
        elif ch == "\\":
            j += 1
        elif quote == '"':
            quote = "" if ch == '"' else quote
            live.append(ch)
        elif ch == "'":
            quote = "'"
            plain.append(" ")
        elif ch == '"':
            quote = '"'
            plain.append(ch)
        elif ch == "#" and (j == 0 or line[j - 1] in " \t;|&("):
            break
        else:
            plain.append(ch)
            live.append(ch)
        j += 1
    return "".join(plain), "".join(live), quote


def _shell_scan(
    lines: list[tuple[int, str]],
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(code, expanded text) of shell lines.

    The first list is each line's code with comments, quoted text of single quotes and
    heredoc bodies removed (for command rules); the second, every part where ``$NAME``
    expands (code, double quotes, bodies of heredocs with an unquoted delimiter).
    """
    code: list[tuple[int, str]] = []
    expands: list[tuple[int, str]] = []
    quote = ""
    i = 0
    while i < len(lines):
        number, line = lines[i]
        i += 1
        plain, live, quote = _scan_line(line, quote)
        code.append((number, plain))
        expands.append((number, live))
        if quote:
            continue
        for terminator, strip_tabs in heredoc_terminators(line) if "<<" in line else ():
            quoted = re.search(r"<<-?\s*(?:['\"]|\\)" + re.escape(terminator), line) is not None
            while i < len(lines):
                body_number, body = lines[i]
                i += 1
                if (body.lstrip("\t") if strip_tabs else body) == terminator:
                    break
                if not quoted:
                    expands.append((body_number, body))
    return code, expands


Scan = tuple[list[tuple[int, str]], list[tuple[int, str]]]


def _params(runbook: SourceRunbook, snippet: SourceSnippet, scan: Scan) -> Iterator[Problem]:
    if snippet.run is False:
        return
    code, expands = scan
    assigned: set[str] = set()
    for _, text in code:
        assigned.update(m.group(1) for m in _ASSIGN_RE.finditer(text))
        assigned.update(m.group(1) for m in _FOR_RE.finditer(text))
        for m in _READ_RE.finditer(text):
            assigned.update(m.group(2).split())
    declared = set(snippet.params)
    used: dict[str, tuple[int, bool]] = {}  # name -> (line of first use, guarded there)
    undeclared: dict[str, int] = {}
    for number, text in expands:
        for m in _REF_RE.finditer(text):
            length, braced, rest, bare = m.groups()
            name = braced or bare
            guarded = braced is not None and not length and rest.startswith((":?", "?"))
            used.setdefault(name, (number, guarded))
            if name not in declared and guarded and name not in assigned:
                undeclared.setdefault(name, number)
    path = runbook.path
    for name, number in undeclared.items():
        yield Problem(
            path,
            number,
            "warning",
            "param-undeclared",
            f"parameter {name} is used as ${{{name}:?}} but not declared: add params={name} "
            "to the fence (sealbook run asks for declared parameters)",
        )
    unused = sorted(n for n in declared if n not in used and PARAM_RE.fullmatch(n))
    if unused:
        names = ", ".join(unused)
        yield Problem(
            path,
            snippet.line,
            "warning",
            "param-unused",
            f"params= declares {names} but the snippet never uses "
            f"{'it' if len(unused) == 1 else 'them'}: remove it from params=, or use "
            f'"${{{unused[0]}:?}}"',
        )
    for name in sorted(declared):
        if name in used and not used[name][1]:
            yield Problem(
                path,
                used[name][0],
                "warning",
                "param-unguarded",
                f"parameter {name} is first used without :? (empty, it runs anyway): write "
                f'"${{{name}:?}}"',
            )


# (6) commands that wait or leak


def _commands(
    runbook: SourceRunbook, snippet: SourceSnippet, lines: list[tuple[int, str]], scan: Scan
) -> Iterator[Problem]:
    code, _ = scan
    path = runbook.path
    for number, line in lines:
        text = line[: comment_start(line)]
        for m in _SECRET_ASSIGN_RE.finditer(text):
            name, value = m.groups()
            if _SECRET_NAME_RE.search(name) and value.strip("\"'"):
                yield Problem(
                    path,
                    number,
                    "warning",
                    "secret-literal",
                    f"{name} is set to a literal: it would be signed and shown to everyone; "
                    f'read it from the environment ("${{{name}:?}}" and params={name}) or a '
                    "secret store",
                )
    if not snippet.executable:
        return
    for number, text in _joined(code):
        segments = _pipeline_segments(text)
        for segment, piped_in, piped_out in segments:
            words = segment.split()
            if not words:
                continue
            tool = _tool(words)
            if tool in ("ping", "ping6") and not any(
                w.startswith(("-c", "-w", "--count", "--deadline")) for w in words
            ):
                yield Problem(
                    path,
                    number,
                    "warning",
                    "ping-no-count",
                    "ping without -c never ends: add -c 3 (or -w SECONDS)",
                )
            elif (
                tool == "openssl"
                and "s_client" in words
                and not piped_in
                and not re.search(r"<\s*/dev/null|<<<", segment)
            ):
                yield Problem(
                    path,
                    number,
                    "warning",
                    "openssl-stdin",
                    "openssl s_client waits for input and never ends: add </dev/null",
                )
            elif (
                tool == "journalctl"
                and not piped_out
                and not any(w in ("--no-pager", "-f", "--follow") for w in words)
                and not any(w.startswith(_JOURNALCTL_QUIET) for w in words)
                and ">" not in segment
            ):
                yield Problem(
                    path,
                    number,
                    "warning",
                    "journalctl-pager",
                    "journalctl waits in a pager on a terminal: add --no-pager",
                )


def _joined(code: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Lines continued with a trailing backslash joined, at the number of their first line."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in code:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text
            pending = None
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1])
            continue
        out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


def _pipeline_segments(text: str) -> list[tuple[str, bool, bool]]:
    """(command, has a pipe in, has a pipe out) of each simple command on a line."""
    parts = _SEGMENT_RE.split(text)
    separators = _SEGMENT_RE.findall(text)
    out = []
    for k, part in enumerate(parts):
        piped_in = k > 0 and separators[k - 1] == "|"
        piped_out = k < len(separators) and separators[k] == "|"
        out.append((part, piped_in, piped_out))
    return out


def _tool(words: list[str]) -> str:
    """The command word of a simple command (after sudo, env, timeout and assignments)."""
    k = 0
    while k < len(words):
        word = words[k].lstrip("($`")
        if ("=" in word and not word.startswith("-")) or word in (
            "sudo",
            "env",
            "command",
            "exec",
            "nice",
            "time",
            "nohup",
        ):
            k += 1
        elif word == "timeout":
            k += 2
        elif word.startswith("-") and k > 0:
            k += 1
        else:
            return posixpath.basename(word)
    return ""


# (4) front matter


def _front_matter(runbook: SourceRunbook) -> Iterator[Problem]:
    unknown = [key for key in runbook.metadata if key not in KNOWN_KEYS]
    if not unknown:
        return
    lines = runbook.source.decode("utf-8", "replace").splitlines()
    for key in unknown:
        guess = near_miss(key.lower(), KNOWN_KEYS)
        if guess is None and key.lower() in KNOWN_KEYS:
            guess = key.lower()
        if guess is None or (guess in runbook.metadata and guess != "alerts"):
            continue
        pattern = re.compile(r"\s*[\"']?" + re.escape(key) + r"[\"']?\s*[:=]")
        line = next((n for n, text in enumerate(lines[:200], 1) if pattern.match(text)), 1)
        yield Problem(
            runbook.path,
            line,
            "warning",
            "front-matter-unknown-key",
            f"front-matter key {key!r} is not one sealbook reads (it is kept, unused): did you "
            f"mean {guess!r}?",
        )


# (5) links


def _anchors(runbook: SourceRunbook) -> set[str]:
    return set(runbook.anchors) | {f"snippet-{s.id}" for s in runbook.snippets}


def _links(
    runbook: SourceRunbook, by_slug: dict[str, SourceRunbook], root: Path
) -> Iterator[Problem]:
    base = posixpath.dirname(runbook.slug)
    lines = runbook.link_lines or (1,) * len(runbook.links)
    for target, number in zip(runbook.links, lines, strict=False):
        if target.startswith(("/", "//")) or _URL_SCHEME_RE.match(target):
            continue
        path, _, fragment = target.partition("#")
        path = unquote(path.split("?", 1)[0])
        fragment = unquote(fragment)

        def problem(message: str, line: int = number) -> Problem:
            return Problem(runbook.path, line, "warning", "link-broken", message)

        if not path:
            if fragment and fragment not in _anchors(runbook):
                yield problem(_no_anchor(target, fragment, runbook, "this page"))
            continue
        rel = posixpath.normpath(posixpath.join(base, path))
        if rel.startswith(".."):
            continue  # outside the runbooks folder: not ours to judge
        if rel.endswith(".md"):
            other = by_slug.get(rel[:-3])
            if other is not None:
                if fragment and fragment not in _anchors(other):
                    yield problem(_no_anchor(target, fragment, other, rel))
                continue
            if (root / rel).is_file():
                continue  # a group's README.md or _index.md
            close = difflib.get_close_matches(rel[:-3], _neighbours(rel[:-3], by_slug), n=1)
            hint = (
                f"; did you mean {posixpath.relpath(close[0] + '.md', base or '.')}?"
                if close
                else ""
            )
            yield problem(f"link {target!r} leads to no runbook ({rel} does not exist){hint}")
        elif not (root / rel).exists():
            yield problem(f"link {target!r} leads to {rel}, which does not exist: fix the path")


def _neighbours(slug: str, by_slug: dict[str, SourceRunbook]) -> list[str]:
    """Slugs a mistyped ``slug`` may have meant: its folder's, and those of its file name."""
    folder, name = posixpath.split(slug)
    return [s for s in by_slug if posixpath.dirname(s) == folder or s.endswith("/" + name)]


def _no_anchor(target: str, fragment: str, runbook: SourceRunbook, where: str) -> str:
    close = difflib.get_close_matches(fragment, sorted(_anchors(runbook)), n=1)
    hint = f": did you mean #{close[0]}?" if close else ": link a heading's id"
    return f"link {target!r}: {where} has no anchor #{fragment}{hint}"


def check_intent(catalog: Catalog) -> list[Problem]:
    """Every intent problem of ``catalog`` (rules 1-6 of the module docstring)."""
    every = catalog.runbooks + catalog.broken
    by_slug = {r.slug: r for r in every}
    root = catalog.root.resolve()
    problems: list[Problem] = []
    for runbook in every:
        source_lines = runbook.source.decode("utf-8", "replace").splitlines()
        for snippet in runbook.snippets:
            fence = source_lines[snippet.line - 1] if snippet.line <= len(source_lines) else ""
            problems += _language(runbook, snippet)
            problems += _attributes(runbook, snippet, fence)
            lines = _code_lines(snippet) if snippet.language in EXECUTABLE_LANGUAGES else None
            if lines is not None:
                scan = _shell_scan(lines)
                problems += _params(runbook, snippet, scan)
                problems += _commands(runbook, snippet, lines, scan)
        problems += _front_matter(runbook)
        problems += _links(runbook, by_slug, root)
    return problems
