"""``sealbook-verify``: offline verification for auditors. Never opens a socket."""

from __future__ import annotations

from collections.abc import Sequence

from verifier._climain import exit_now, run_main

COMMANDS = {
    "release": ("verifier.commands.release", "verify one release folder"),
    "releases": ("verifier.commands.releases", "verify every release and the chain"),
    "bundle": ("verifier.commands.bundle", "verify any Sigstore-signed file offline"),
    "site": ("verifier.commands.site", "prove a built site equals the signed releases"),
    "logs": ("verifier.commands.logs", "verify run logs against the signed releases"),
    "summary": ("verifier.commands.summary", "verify run logs and summarise them for an audit"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``sealbook-verify``."""
    return run_main(
        "sealbook-verify",
        "Verify sealbook releases, sites and run logs offline against a pinned trust policy.",
        COMMANDS,
        argv,
    )


def entry() -> None:
    """The console script: `main`, then `exit_now` (no interpreter teardown)."""
    exit_now(main())


if __name__ == "__main__":
    entry()
