"""Verify run logs offline against the signed releases: one result per record.

Checks every record's chain link and sequence, its release (present, signed by an
allowed signer), its snippet (present, executable, digest equal), its time against the
release's verified signing time (minus trust.clock_skew_seconds), that every started
run finished, and reports refusals and recoveries. With --expect-head SEQ:HASH (one per
LOG, in order), removed or rewritten newest records are caught. See docs/run-log.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.commands._options import add_format, add_policy, add_releases, load_policy
from verifier.errors import UsageError
from verifier.logs import verify_logs
from verifier.runlog import Head


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook-verify logs`."""
    parser.add_argument("logs", type=Path, nargs="+", metavar="LOG", help="run log file(s)")
    add_releases(parser)
    parser.add_argument(
        "--expect-head",
        action="append",
        default=[],
        metavar="SEQ:HASH",
        help="anchored head from `sealbook log head`; once per LOG, in the same order",
    )
    add_policy(parser)
    add_format(parser, junit=True)


def run(args: argparse.Namespace) -> int:
    """Verify and print the report; exit 0 all verified, 1 a record failed."""
    heads = [Head.parse(value) for value in args.expect_head]
    if heads and len(heads) != len(args.logs):
        raise UsageError(
            "--expect-head",
            f"given {len(heads)} time(s) for {len(args.logs)} log(s)",
            "give one SEQ:HASH per LOG, in the same order",
        )
    policy = load_policy(args)
    report = verify_logs(args.logs, args.releases, policy, heads or None)
    report.write(sys.stdout, args.format)
    return report.exit_code
