"""Run a pinned snippet of a signed release exactly as signed, and record it in the run log.

Verifies the release offline under the trust policy (never taken from the site), checks
the snippet exists, is executable and has the pinned digest, then runs its signed text
with `/bin/bash --noprofile --norc -c TEXT sealbook-run` and exits with its status.
Refusals exit 125 with one line on stderr and a `refused` record; nothing runs.
See docs/run-log.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from builder.run import RunOptions, RunTarget, run_snippet
from verifier.commands._options import add_policy
from verifier.policy import TrustPolicy


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook run`."""
    parser.add_argument("ref", metavar="SLUG@RELEASE", help="runbook slug and release version")
    parser.add_argument("snippet_id", metavar="SNIPPET_ID", help="the snippet to run")
    parser.add_argument(
        "--sha256", required=True, metavar="HEX", help="the snippet's pinned digest"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--releases",
        type=Path,
        metavar="DIR",
        help="releases folder (default: ./releases)",
    )
    source.add_argument(
        "--from",
        dest="site",
        metavar="SITE",
        help="published site root: a folder or an http(s) URL (releases/<version>/...)",
    )
    add_policy(parser)
    parser.add_argument(
        "--log",
        type=Path,
        help="run log (default: $SEALBOOK_LOG, else $XDG_STATE_HOME/sealbook/runs.jsonl)",
    )
    parser.add_argument(
        "--capture", type=Path, metavar="DIR", help="also keep stdout/stderr in DIR by digest"
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="verify and print the exact text that would run; run and record nothing",
    )


def run(args: argparse.Namespace) -> int:
    """Verify, run, record; return the snippet's exit status."""
    target = RunTarget.parse(args.ref, args.snippet_id, args.sha256)
    policy = TrustPolicy.load(args.policy)
    options = RunOptions(
        releases=args.releases,
        site=args.site,
        log=args.log,
        capture=args.capture,
        dry_run=args.dry_run,
    )
    return run_snippet(target, policy, options).exit_code
