"""Console transcripts (``console``/``shell-session`` blocks) reduced to the commands they show.

A transcript mixes commands and their output. What gets signed and run is the commands only:

- a prompt line ``$ cmd`` (or a bare ``$``) gives ``cmd``;
- a line after one ending in an unescaped ``\\`` is a continuation and is kept as written;
- PS2 lines ``> more`` right after a command are kept without the ``> ``;
- heredoc bodies (``<<EOF``, ``<<-EOF``, ``<<'EOF'``, ``<<"EOF"``) are kept up to their
  terminator, with or without a PS2 ``> `` in front; a body never terminated is an error;
- every other line is output and dropped.

A ``# `` line is ambiguous (a root prompt or a comment): it is dropped, with a warning.
Pure: takes the block's lines, returns the kept lines with their index in the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

_HEREDOC_WORD_RE = re.compile(
    r"""-?[ \t]*(?:'([^'\n]*)'|"([^"\n]*)"|\\?([A-Za-z_][A-Za-z0-9_.-]*))"""
)


@dataclass(frozen=True)
class ConsoleNote:
    """A problem found while reducing a transcript; ``index`` is the 0-based line in the block."""

    index: int
    severity: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True)
class Reduction:
    """The commands of a transcript, each with the 0-based index of its line in the block."""

    commands: tuple[tuple[int, str], ...]
    has_prompt: bool
    """True when at least one ``$ `` line carries a command: the block is executable."""
    notes: tuple[ConsoleNote, ...] = field(default=())

    @property
    def text(self) -> str:
        """The commands joined by LF (not yet passed through ``signed_text``)."""
        return "\n".join(line for _, line in self.commands)


def _prompt_command(line: str) -> str | None:
    """The command of a ``$ `` prompt line, or None when ``line`` is not one."""
    if line.startswith("$ "):
        return line[2:]
    if line.rstrip() == "$":
        return ""
    return None


def _ps2(line: str) -> str | None:
    """The text of a PS2 ``> `` line, or None when ``line`` is not one."""
    if line.startswith("> "):
        return line[2:]
    if line.rstrip() == ">":
        return ""
    return None


def _continues(line: str) -> bool:
    """True when ``line`` ends in a backslash that escapes the newline."""
    stripped = line.rstrip("\r")
    trailing = len(stripped) - len(stripped.rstrip("\\"))
    return trailing % 2 == 1


def heredoc_terminators(line: str) -> list[tuple[str, bool]]:
    """The heredocs a shell line opens, in order: (terminator, strip leading tabs).

    A heuristic, not a shell parser: it skips quoted text, ``<<<`` here-strings,
    arithmetic ``((...))`` and comments.
    """
    found: list[tuple[str, bool]] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch == "\\":
            i += 2
            continue
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t;|&("):
            break
        elif line.startswith("((", i):
            end = line.find("))", i)
            i = len(line) if end < 0 else end + 2
            continue
        elif line.startswith("<<<", i):
            i += 3
            continue
        elif line.startswith("<<", i):
            match = _HEREDOC_WORD_RE.match(line, i + 2)
            if match:
                word = next(g for g in match.groups() if g is not None)
                found.append((word, line[i + 2 : i + 3] == "-"))
                i = match.end()
                continue
        i += 1
    return found


class _Reducer:
    """One pass over a transcript; kept small so each step reads on its own."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.i = 0
        self.commands: list[tuple[int, str]] = []
        self.notes: list[ConsoleNote] = []
        self.has_prompt = False

    def run(self) -> Reduction:
        while self.i < len(self.lines):
            line = self.lines[self.i]
            command = _prompt_command(line)
            if command is not None:
                self.has_prompt = self.has_prompt or command.strip() != ""
                self._command(command)
                continue
            if line.startswith("# ") or line.rstrip() == "#":
                self.notes.append(
                    ConsoleNote(
                        self.i,
                        "warning",
                        "console-root-prompt",
                        "line starts with '# ' (a root prompt or a comment?): it is treated as "
                        "output and never run; write commands as '$ sudo ...'",
                    )
                )
            self.i += 1
        return Reduction(tuple(self.commands), self.has_prompt, tuple(self.notes))

    def _keep(self, text: str) -> None:
        self.commands.append((self.i, text))
        self.i += 1

    def _command(self, first: str) -> None:
        """A command line with its continuations, PS2 lines and heredoc bodies."""
        start = self.i
        pending = heredoc_terminators(first)
        continued = _continues(first)
        self._keep(first)
        while self.i < len(self.lines):
            line = self.lines[self.i]
            ps2 = _ps2(line)
            if continued:
                text = line if ps2 is None else ps2
            elif ps2 is not None and not pending:
                text = ps2
            else:
                break
            pending += heredoc_terminators(text)
            continued = _continues(text)
            self._keep(text)
        for n, (terminator, strip_tabs) in enumerate(pending):
            body = self._heredoc(terminator, strip_tabs)
            if body is not None:
                # One report per command: the heredocs after this one cannot be found either.
                missing = " then ".join(f"'{t}'" for t, _ in pending[n:])
                self.notes.append(
                    ConsoleNote(
                        start,
                        "error",
                        "heredoc-unterminated",
                        f"heredoc started here is never terminated by a line {missing}"
                        f"{indented_terminator_hint(body, terminator, strip_tabs)}; "
                        "add the terminator line to the transcript",
                    )
                )
                return

    def _heredoc(self, terminator: str, strip_tabs: bool) -> list[str] | None:
        """Keep a heredoc body up to its terminator line (PS2 ``> `` prefixes removed).

        Returns None when the terminator was found, else the body lines kept.
        """
        first = self.lines[self.i] if self.i < len(self.lines) else ""
        prompted = _ps2(first) is not None
        kept: list[str] = []
        while self.i < len(self.lines):
            line = self.lines[self.i]
            body = _ps2(line) if prompted else line
            if body is None:
                break
            self._keep(body)
            kept.append(body)
            if (body.lstrip("\t") if strip_tabs else body).rstrip("\r") == terminator:
                return None
        return kept


def indented_terminator_hint(body: list[str], terminator: str, strip_tabs: bool) -> str:
    """A hint when a line of an unterminated heredoc's ``body`` is its terminator, indented."""
    for line in body:
        if line.strip() == terminator:
            fix = (
                "<<- strips leading tabs only, not spaces"
                if strip_tabs
                else "start it at column 1, or write <<-EOF and indent with tabs"
            )
            return f" (the line {line.rstrip()!r} is indented: {fix})"
    return ""


def reduce_console(lines: list[str]) -> Reduction:
    """Reduce the lines of a console transcript (without line endings) to its commands."""
    return _Reducer(lines).run()
