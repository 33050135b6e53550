"""The one error hierarchy of sealbook, with exit codes.

Every user-facing failure is a single line naming the input, the problem and the
next step. Only the CLIs' ``main()`` turn these into exit codes.
"""

from __future__ import annotations

# Exit codes: the table in README.md ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_TRUST = 4
EXIT_REFUSED = 125


_LINE_BREAKS = {
    ord(c): f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
    for c in "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
} | {ord("\r"): "\\r", ord("\n"): "\\n"}


class SealbookError(Exception):
    """Base of every error sealbook reports to a user."""

    exit_code = EXIT_FAILED

    def __init__(self, subject: str, problem: str, next_step: str = "") -> None:
        self.subject = subject
        self.problem = problem
        self.next_step = next_step
        super().__init__(self.diagnostics())

    @property
    def detail(self) -> str:
        """The problem and next step without the subject (for per-item results)."""
        return f"{self.problem} ({self.next_step})" if self.next_step else self.problem

    def diagnostics(self) -> str:
        """One line: the input, what is wrong and what to do next."""
        line = f"{self.subject}: {self.problem}"
        if self.next_step:
            line += f" ({self.next_step})"
        # Hostile input must not be able to forge extra lines in our output: every character
        # str.splitlines() breaks on (NEL, LS, PS, VT, FF, FS/GS/RS too) is escaped.
        return line.translate(_LINE_BREAKS)


class UsageError(SealbookError):
    """The command line itself is wrong."""

    exit_code = EXIT_USAGE


class InputError(SealbookError):
    """An input cannot be read or parsed as a whole (missing, not JSON/TOML, unknown schema)."""

    exit_code = EXIT_INPUT


class TrustError(SealbookError):
    """The trust root or the policy is missing, unreadable or unusable."""

    exit_code = EXIT_TRUST


class VerificationError(SealbookError):
    """An item was read but failed verification; ``reason`` is a documented reason code."""

    exit_code = EXIT_FAILED

    def __init__(self, reason: str, subject: str, problem: str, next_step: str = "") -> None:
        self.reason = reason
        super().__init__(subject, problem, next_step)


class RefusedError(SealbookError):
    """``sealbook run`` refused to run a snippet: nothing ran."""

    exit_code = EXIT_REFUSED

    def __init__(self, reason: str, subject: str, problem: str, next_step: str = "") -> None:
        self.reason = reason
        super().__init__(subject, problem, next_step)
