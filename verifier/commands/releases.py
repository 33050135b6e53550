"""Verify every release in a folder and the chain they form (genesis, forks, orphans, order)."""

from __future__ import annotations

import argparse
from pathlib import Path

from verifier.commands._options import add_expect_latest, add_format, add_policy, emit, load_policy
from verifier.release import Anchor, verify_releases
from verifier.results import Report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", type=Path, metavar="DIR", help="the releases folder")
    add_expect_latest(parser)
    add_policy(parser)
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    anchor = Anchor.parse(args.expect_latest) if args.expect_latest else None
    policy = load_policy(args)
    verdict = verify_releases(args.dir, policy, anchor)
    report = Report("releases", verdict.results, context=policy.describe())
    if verdict.head is not None:
        report.context["head"] = f"{verdict.head.version}:{verdict.head.manifest_digest}"
    return emit(report, args.format)
