"""Options both CLIs share, so `--policy`, `--releases` and the rest mean one thing everywhere."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.policy import TrustPolicy
from verifier.results import Report


def add_releases(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--releases",
        type=Path,
        default=Path("releases"),
        metavar="DIR",
        help="releases folder (default: ./releases)",
    )


def add_runbooks(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runbooks",
        type=Path,
        default=Path("runbooks"),
        metavar="DIR",
        help="runbooks folder (default: ./runbooks)",
    )


def add_policy(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        type=Path,
        help="trust policy TOML (default: $SEALBOOK_POLICY, then ./sealbook.toml)",
    )


def add_expect_latest(
    parser: argparse.ArgumentParser,
    help_text: str = "anchored head of the chain (catches deleted or replaced newest releases)",
) -> None:
    parser.add_argument("--expect-latest", metavar="VERSION:DIGEST", help=help_text)


def add_format(parser: argparse.ArgumentParser, *, junit: bool = False) -> None:
    choices = ["text", "json", "junit"] if junit else ["text", "json"]
    parser.add_argument("--format", choices=choices, default="text", help="output format")


def load_policy(args: argparse.Namespace) -> TrustPolicy:
    return TrustPolicy.load(args.policy)


def emit(report: Report, fmt: str) -> int:
    """Print the report and return its exit code."""
    sys.stdout.write(report.render(fmt))
    return report.exit_code
