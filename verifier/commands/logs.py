"""Verify run logs offline against the signed releases: one result per record.

Checks every record's chain link and sequence, its release (present, signed by an
allowed signer), its snippet (present, executable, digest equal), its time against the
release's verified signing time (minus trust.clock_skew_seconds), that every started
run finished, and reports refusals and recoveries. With --expect-head LOG=SEQ:HASH (or
SEQ:HASH for a single LOG), removed or rewritten newest records are caught; the report
names each anchor and what it proved. See docs/run-log.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.commands._options import add_format, add_policy, add_releases, load_policy
from verifier.errors import UsageError
from verifier.logs import verify_logs
from verifier.runlog import Head


def add_log_inputs(parser: argparse.ArgumentParser) -> None:
    """The logs, the releases they name and their anchors (`logs` and `summary`)."""
    parser.add_argument("logs", type=Path, nargs="+", metavar="LOG", help="run log file(s)")
    add_releases(parser)
    parser.add_argument(
        "--expect-head",
        action="append",
        default=[],
        metavar="LOG=SEQ:HASH",
        help="anchored head of LOG from `sealbook log head` (SEQ:HASH alone: a single LOG)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook-verify logs`."""
    add_log_inputs(parser)
    add_policy(parser)
    add_format(parser, junit=True)


def run(args: argparse.Namespace) -> int:
    """Verify and print the report; exit 0 all verified, 1 a record failed."""
    heads = pair_heads(args.logs, args.expect_head)
    policy = load_policy(args)
    report = verify_logs(args.logs, args.releases, policy, heads)
    report.write(sys.stdout, args.format)
    return report.exit_code


def pair_heads(logs: list[Path], values: list[str]) -> list[Head | None]:
    """Each LOG's anchor from ``--expect-head LOG=SEQ:HASH`` values (or one plain SEQ:HASH).

    Plain values given once per LOG still pair by position (the form before LOG= existed).
    """
    heads: list[Head | None] = [None] * len(logs)
    plain = [v for v in values if "=" not in v]
    if plain and len(plain) != len(values):
        raise _usage("mixes LOG=SEQ:HASH and SEQ:HASH", "use LOG=SEQ:HASH for every anchor")
    if plain:
        if len(plain) != len(logs):
            raise _usage(
                f"given {len(plain)} plain SEQ:HASH for {len(logs)} log(s)",
                "pair each anchor with its log: --expect-head LOG=SEQ:HASH",
            )
        return [Head.parse(v) for v in plain]
    names = [str(log) for log in logs]
    for value in values:
        name, _, head = value.rpartition("=")
        if name not in names:
            raise _usage(f"names {name!r}, which is not a LOG given", "use the LOG path as given")
        where = names.index(name)
        if heads[where] is not None:
            raise _usage(f"given twice for {name!r}", "give one anchor per LOG")
        heads[where] = Head.parse(head)
    return heads


def _usage(problem: str, fix: str) -> UsageError:
    return UsageError("--expect-head", problem, fix)
