"""Inspect a run log: `sealbook log head` prints the head as SEQ:HASH, for anchoring elsewhere.

Copy the head off the host (a ticket, a chat message, another system's log); later,
`sealbook-verify logs LOG --expect-head SEQ:HASH` proves no record up to it was changed,
removed or reordered. See docs/run-log.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from builder.runlog import RunLog, RunLogError, default_log_path
from verifier.errors import EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook log`."""
    parser.add_argument("action", choices=["head"], help="head: print SEQ:HASH of the last record")
    parser.add_argument(
        "--log",
        type=Path,
        help="run log (default: $SEALBOOK_LOG, else $XDG_STATE_HOME/sealbook/runs.jsonl)",
    )


def run(args: argparse.Namespace) -> int:
    """Print the head; note torn bytes (the next append records them) on stderr."""
    path = args.log or default_log_path()
    try:
        tail = RunLog(path).tail()
    except RunLogError as exc:  # exit 125 means "run refused"; here the log is unreadable
        raise InputError(exc.subject, exc.problem, exc.next_step) from None
    sys.stdout.write(f"{tail.last}\n")
    if tail.torn:
        sys.stderr.write(
            f"sealbook: {path}: {len(tail.torn)} torn bytes after the head; "
            "the next `sealbook run` records them in a `recovered` record\n"
        )
    return EXIT_OK
