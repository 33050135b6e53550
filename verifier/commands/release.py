"""Verify one release folder offline: signature, signer, manifest, frozen sources, snippets."""

from __future__ import annotations

import argparse
from pathlib import Path

from verifier.commands._options import add_format, add_policy, emit, load_policy
from verifier.errors import VerificationError
from verifier.release import verify_release
from verifier.results import Report, Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", type=Path, metavar="DIR", help="a release folder (<releases>/<version>)"
    )
    add_policy(parser)
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    policy = load_policy(args)
    report = Report("release", context=policy.describe())
    try:
        rel = verify_release(args.dir, policy)
    except VerificationError as exc:
        report.add(Result("release", str(args.dir), exc.reason, exc.detail))
    else:
        report.add(Result("release", rel.version, "verified", "", dev=rel.dev, facts=rel.facts()))
    return emit(report, args.format)
