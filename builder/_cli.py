"""``sealbook``: check, diff, release, build, preview, run, log, dev-instance, demo."""

from __future__ import annotations

from collections.abc import Sequence

from verifier._climain import exit_now, run_main

COMMANDS = {
    "check": ("builder.commands.check", "lint runbooks (exit 0 clean, 1 problems, 3 unreadable)"),
    "diff": (
        "builder.commands.diff",
        "what the next release would sign, against the newest (exit 0 same, 1 changed)",
    ),
    "release": ("builder.commands.release", "freeze the runbooks into a signed, immutable release"),
    "build": ("builder.commands.build", "verify every release and render the catalog site"),
    "preview": (
        "builder.commands.preview",
        "render an UNSIGNED preview site from the working tree",
    ),
    "run": ("builder.commands.run", "run a pinned snippet of a signed release and log it"),
    "log": ("builder.commands.log", "inspect a run log (`log head` prints SEQ:HASH)"),
    "dev-instance": ("builder.commands.dev_instance", "start the loopback dev Sigstore instance"),
    "demo": ("builder.commands.demo", "sign, build, run and verify the sample catalog offline"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sealbook``."""
    return run_main(
        "sealbook",
        "Incident runbooks as code: signed releases, an offline catalog, pinned runs.",
        COMMANDS,
        argv,
    )


def entry() -> None:
    """The console script: `main`, then `exit_now` (no interpreter teardown)."""
    exit_now(main())


if __name__ == "__main__":
    entry()
