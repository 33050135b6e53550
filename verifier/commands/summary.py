"""An audit summary of run logs: verify them, then count and list what an auditor files.

Verifies the logs as `sealbook-verify logs` does (same options, same verdicts), verifies the
release chain to know the newest release, and prints per-record facts, counts per host,
user, invoker, runbook and release, and the lists of refusals, unfinished runs, recoveries,
non-zero exits and runs of superseded releases; --since/--until narrow the window.
Exit codes as `logs`: 0 every record verified, 1 a record failed. See docs/run-log.md.
"""

from __future__ import annotations

import argparse
import sys

from verifier.commands._options import add_policy, load_policy
from verifier.commands.logs import add_log_inputs, pair_heads
from verifier.digests import canonical_json
from verifier.errors import InputError, UsageError
from verifier.logs import verify_logs
from verifier.release import verify_releases
from verifier.runlog import valid_time
from verifier.summary import render_markdown, summarize


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook-verify summary`."""
    add_log_inputs(parser)
    for name in ("since", "until"):
        parser.add_argument(
            f"--{name}",
            metavar="TIME",
            help=f"only records {'at or after' if name == 'since' else 'at or before'} TIME "
            "(UTC, e.g. 2026-10-01T00:00:00.000Z; a date alone means its start)",
        )
    add_policy(parser)
    parser.add_argument(
        "--format", choices=["markdown", "json"], default="markdown", help="output format"
    )


def run(args: argparse.Namespace) -> int:
    """Verify, summarise and print; exit 0 all verified, 1 a record failed."""
    since, until = (
        _time(args.since, "--since", "00:00:00.000"),
        _time(args.until, "--until", "23:59:59.999"),
    )
    heads = pair_heads(args.logs, args.expect_head)
    policy = load_policy(args)
    report = verify_logs(args.logs, args.releases, policy, heads)
    try:
        head = verify_releases(args.releases, policy).head
    except InputError:
        head = None  # no releases at all: every record already says release-unknown
    doc = summarize(report, args.logs, head, since, until)
    if args.format == "json":
        sys.stdout.write(canonical_json(doc).decode("utf-8") + "\n")
    else:
        sys.stdout.write(render_markdown(doc))
    return report.exit_code


def _time(value: str | None, option: str, day_part: str) -> str | None:
    if value is None:
        return None
    full = f"{value}T{day_part}Z" if len(value) == 10 else value
    if not valid_time(full):
        raise UsageError(
            option,
            f"expected a UTC time like 2026-10-01T00:00:00.000Z or a date, got {value!r}",
            "give the time in the run log's format",
        )
    return full
