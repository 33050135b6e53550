"""Runnable or reference: which blocks in an executable language sealbook signs as executable.

A block in ``bash sh shell console shell-session`` is executable only when sealbook can run it
exactly as signed (docs/runbook-format.md, "Runnable or reference"):

1. no prompt lines (``$ ``, ``❯ ``) in a bash block: a transcript belongs in a ``console``
   fence, whose prompts are removed and output dropped; a console block needs a ``$ `` line;
2. no ``<placeholder>`` tokens other than declared parameters (``<pod-name>`` parses as a
   redirection and would run);
3. its (console-reduced) text passes ``bash -n`` (and a console heredoc is terminated).

Otherwise it is a **reference** block (signed, shown, copyable, never run) and ``check``
warns, naming the reason and the fix. ``run=false`` makes a block reference with no warning;
``run=true`` in the fence, or ``require_runnable`` for the whole catalog, makes every reason
an error (nothing is released until it is fixed).
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from builder.console import heredoc_terminators, indented_terminator_hint, reduce_console
from builder.lint import comment_start, danger
from builder.runbook import (
    CONSOLE_LANGUAGES,
    Catalog,
    Problem,
    Severity,
    SourceRunbook,
    SourceSnippet,
)
from verifier.errors import SealbookError
from verifier.manifest import EXECUTABLE_LANGUAGES

BASH_TIMEOUT_SECONDS = 20
_PROMPT_RE = re.compile(r"(?:\$|❯)(?: |$)")
_PLACEHOLDER_RE = re.compile(r"<([A-Za-z][A-Za-z0-9_.:-]*(?: [A-Za-z0-9_.:-]+)*)>")
_BASH_LINE_RE = re.compile(r"/dev/stdin: line (\d+): (.*)")
_LINE_BREAK_RE = re.compile(r"\r\n|\r|\n")
_LINT_REPORTS = frozenset({"bidi-control", "invisible-character", "control-character"})


@dataclasses.dataclass(frozen=True)
class Reason:
    """Why a block cannot run as signed: a code, the 0-based content line, the message."""

    code: str
    index: int
    message: str


def classify(catalog: Catalog, *, require_runnable: bool = False) -> Catalog:
    """``catalog`` with every block in an executable language decided runnable or reference."""
    every = catalog.runbooks + catalog.broken  # a broken front matter hides no body problem
    jobs: list[tuple[int, int, SourceSnippet]] = []
    for r, runbook in enumerate(every):
        for s, snippet in enumerate(runbook.snippets):
            if snippet.language in EXECUTABLE_LANGUAGES and snippet.run is not False:
                jobs.append((r, s, snippet))
    workers = max(1, min(8, (os.cpu_count() or 1) * 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        verdicts = list(pool.map(lambda job: reasons(job[2]), jobs))
    runbooks = [list(rb.snippets) for rb in every]
    problems = list(catalog.problems)
    for (r, s, snippet), found in zip(jobs, verdicts, strict=True):
        runbook = every[r]
        hard = [x for x in found if x.code != "bash-warning"]
        strict = require_runnable or snippet.run is True
        for reason in found:
            if reason.code in _LINT_REPORTS and not strict:
                continue  # `builder.lint` reports the character itself
            severity: Severity = "warning"
            if reason.code != "bash-warning" and strict:
                severity = "error"
            problems.append(_problem(runbook, snippet, reason, severity, strict))
        if hard:
            # A console block keeps its commands as its signed text (the page shows it whole).
            runbooks[r][s] = dataclasses.replace(
                snippet, executable=False, why_not=tuple(x.code for x in hard)
            )
        elif snippet.language in EXECUTABLE_LANGUAGES:
            runbooks[r][s] = dataclasses.replace(snippet, executable=True)
    for r, runbook in enumerate(every):
        for s, snippet in enumerate(runbook.snippets):
            if snippet.run is False and snippet.executable:
                runbooks[r][s] = dataclasses.replace(
                    snippet, executable=False, why_not=("run-false",)
                )
    new = tuple(dataclasses.replace(rb, snippets=tuple(runbooks[r])) for r, rb in enumerate(every))
    problems.sort(key=lambda p: (p.path, p.line, p.code))
    kept = len(catalog.runbooks)
    return dataclasses.replace(
        catalog, runbooks=new[:kept], broken=new[kept:], problems=tuple(problems)
    )


def reasons(snippet: SourceSnippet) -> list[Reason]:
    """Every reason ``snippet`` cannot run as signed (``bash-warning`` ones do not stop it)."""
    lines = _LINE_BREAK_RE.split(snippet.raw.rstrip("\r\n")) if snippet.raw else []
    found: list[Reason] = []
    if snippet.language in CONSOLE_LANGUAGES:
        reduction = reduce_console(lines)
        if not reduction.has_prompt:
            return [
                Reason(
                    "console-no-prompt",
                    0,
                    "console block has no `$ ` prompt line, so nothing in it is a command: "
                    "it is a reference block (prefix commands with `$ `, or use a text fence)",
                )
            ]
        for note in reduction.notes:
            if note.severity == "error":
                found.append(Reason(note.code, note.index, note.message))
        commands = list(reduction.commands)
    else:
        commands = list(enumerate(lines))
        for index, line in commands:
            if _PROMPT_RE.match(line):
                found.append(
                    Reason(
                        "prompt-in-block",
                        index,
                        f"a `{line[0]} ` prompt line in a {snippet.language} block cannot run "
                        "as written: use a ```console fence (prompts removed, output dropped)",
                    )
                )
                break
    hazard = _unsafe_character(lines)
    if hazard is not None:
        found.append(hazard)
    if not snippet.allow_non_ascii:
        for index, line in commands:
            code = line[: comment_start(line)]
            if any(not ch.isascii() and danger(ch) is None for ch in code):
                found.append(
                    Reason(
                        "non-ascii-code",
                        index,
                        "non-ASCII character in code (a look-alike letter runs as another "
                        "command): use ASCII, or opt in with allow-non-ascii",
                    )
                )
                break
    declared = set(snippet.params)
    for index, code in _shell_words(commands):
        bare = _QUOTED_RE.sub("''", code)
        for match in _PLACEHOLDER_RE.finditer(code):
            name = match.group(1)
            quoted = match.group(0) not in bare
            # In quotes `<b>` is data (HTML, a pattern); `<PROJECT_ID>`, `<pod-name>` are
            # still placeholders the reader must replace.
            if name in declared or (quoted and not _PLACEHOLDER_IN_QUOTES_RE.search(name)):
                continue
            param = re.sub(r"[^A-Z0-9_]+", "_", name.upper()).strip("_") or "NAME"
            found.append(
                Reason(
                    "placeholder",
                    index,
                    f"placeholder <{name}> would run as a redirection: write "
                    f'"${{{param}:?}}" and declare params={param} in the fence',
                )
            )
            break
    if not found:
        found += _bash_reasons(snippet.text, [i for i, _ in commands])
    return found


_QUOTED_RE = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
_PLACEHOLDER_IN_QUOTES_RE = re.compile(r"[A-Z_-]")


def _shell_words(commands: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The lines as the shell reads them, without heredoc bodies and comments (data)."""
    out: list[tuple[int, str]] = []
    pending: list[tuple[str, bool]] = []
    for index, line in commands:
        if pending:
            terminator, strip_tabs = pending[0]
            if (line.lstrip("\t") if strip_tabs else line) == terminator:
                pending.pop(0)
            continue
        out.append((index, line[: comment_start(line)]))
        pending += heredoc_terminators(line)
    return out


def _unsafe_character(lines: list[str]) -> Reason | None:
    """An invisible, control or bidi character anywhere in the block: it never runs."""
    for index, line in enumerate(lines):
        for ch in line:
            code = danger(ch)
            if code is not None:
                return Reason(code, index, f"U+{ord(ch):04X} ({code}) in the block")
    return None


def _bash_reasons(text: str, line_of: list[int]) -> list[Reason]:
    status, stderr = bash_n(text)
    found: list[Reason] = []
    lines = text.split("\n")

    def index_of(number: int) -> int:
        return line_of[max(0, min(number, len(line_of)) - 1)] if line_of else 0

    for match in _BASH_LINE_RE.finditer(stderr):
        number, message = int(match.group(1)), match.group(2).strip()
        if message.startswith("`"):
            continue  # bash echoes the offending code after the message
        heredoc = _HEREDOC_AT_RE.search(message)
        if heredoc is not None:
            # Point at the line that opened it, not at the end where bash noticed.
            opened, word = int(heredoc.group(1)), heredoc.group(2)
            strip_tabs = "<<-" in lines[opened - 1] if 0 < opened <= len(lines) else False
            hint = indented_terminator_hint(lines[opened:], word, strip_tabs)
            found.append(
                Reason(
                    "heredoc-unterminated",
                    index_of(opened),
                    f"bash -n: the heredoc opened here is never terminated by a line '{word}'"
                    f"{hint}",
                )
            )
            continue
        if status != 0 and _UNCLOSED_RE.search(message):
            opener = _opener(lines)
            if opener is not None:
                found.append(
                    Reason("bash-syntax", index_of(opener + 1), _unclosed(message, lines[opener]))
                )
                break
        code = "bash-syntax" if status != 0 else "bash-warning"
        found.append(Reason(code, index_of(number), f"bash -n: {message}"))
        if status != 0:
            break
    if status != 0 and not any(r.code != "bash-warning" for r in found):
        found.append(Reason("bash-syntax", 0, f"bash -n failed: {stderr.strip()[:200]}"))
    return found


_HEREDOC_AT_RE = re.compile(
    r"here-document at line (\d+) delimited by end-of-file \(wanted `(.*)'\)"
)
_UNCLOSED_RE = re.compile(r"unexpected end of file|unexpected EOF while looking for matching")
_OPENER_SEARCH_LIMIT = 64
_CLOSERS = {
    "if": "fi",
    "for": "done",
    "while": "done",
    "until": "done",
    "select": "done",
    "case": "esac",
    "{": "}",
    "(": ")",
}


def _opener(lines: list[str]) -> int | None:
    """The 0-based line where the construct bash found unclosed at the end begins.

    It is where the longest prefix of the text that still parses ends: every longer prefix
    holds the unclosed ``if``, loop, brace or quote. At most ``_OPENER_SEARCH_LIMIT`` runs.
    """
    for k in range(len(lines) - 1, max(-1, len(lines) - 1 - _OPENER_SEARCH_LIMIT), -1):
        status, _ = bash_n("\n".join(lines[:k]) + "\n" if k else "")
        if status == 0:
            return k
    return None


def _unclosed(message: str, line: str) -> str:
    if "matching" in message:
        return f"bash -n: {message}: the quote opened on this line is never closed"
    words = line.split()
    closer = next((_CLOSERS[w] for w in words if w in _CLOSERS), None)
    if closer is None and line.rstrip().endswith(("{", "(")):
        closer = _CLOSERS[line.rstrip()[-1]]
    what = f"add the missing `{closer}`" if closer else "close it"
    return f"bash -n: {message}: the command that starts on this line is never closed ({what})"


def _problem(
    runbook: SourceRunbook, snippet: SourceSnippet, reason: Reason, severity: Severity, strict: bool
) -> Problem:
    if reason.code == "bash-warning":
        message = reason.message
    elif strict:
        why = "run=true" if snippet.run is True else "the catalog requires runnable blocks"
        message = f"{reason.message} ({why})"
    else:
        message = f"reference block, never run: {reason.message}; or mark it run=false"
    return Problem(runbook.path, snippet.line + 1 + reason.index, severity, reason.code, message)


def _bash_env() -> dict[str, str]:
    # No BASH_ENV/ENV: a non-interactive bash would source them; C locale: stable messages.
    return {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}


def bash_n(text: str) -> tuple[int, str]:
    """Run ``bash -n`` over ``text``; (exit status, stderr)."""
    try:
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-n", "/dev/stdin"],
            input=text.encode("utf-8", "surrogateescape"),
            capture_output=True,
            env=_bash_env(),
            timeout=BASH_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise SealbookError(
            "bash", "not found on PATH", "install bash: check runs `bash -n` on every snippet"
        ) from None
    except subprocess.TimeoutExpired:
        return -1, f"/dev/stdin: line 1: bash -n took more than {BASH_TIMEOUT_SECONDS}s"
    return done.returncode, done.stderr.decode("utf-8", "replace")


def executable_texts(catalog: Catalog) -> Iterable[tuple[SourceRunbook, SourceSnippet]]:
    """Every snippet ``catalog`` signs as executable."""
    for runbook in catalog.runbooks:
        for snippet in runbook.snippets:
            if snippet.executable:
                yield runbook, snippet
