"""Prove a built site equals the signed releases: exact file set, snippets, commands, latest.

Releases default to SITE/releases and are verified with YOUR policy (never read from the
site). One result per file; exit 0 when every file verified, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from verifier.commands._options import add_expect_latest, add_format, add_policy, emit, load_policy
from verifier.release import Anchor, verify_releases
from verifier.results import Report, Result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", type=Path, metavar="SITE", help="the built site (its root folder)")
    parser.add_argument(
        "--releases", type=Path, help="releases folder (default: SITE/releases, verified here)"
    )
    add_expect_latest(parser)
    add_policy(parser)
    add_format(parser, junit=True)


def run(args: argparse.Namespace) -> int:
    from verifier.site import verify_site

    anchor = Anchor.parse(args.expect_latest) if args.expect_latest else None
    policy = load_policy(args)
    # One build, read once: a published site is a symlink a new build may flip meanwhile.
    site = args.site.resolve()
    releases = args.releases if args.releases is not None else site / "releases"
    verdict = verify_releases(releases, policy, anchor)
    report = Report("site", context=policy.describe())
    if not verdict.ok:
        for r in verdict.results:
            if not r.ok:
                report.add(r)
        report.add(
            Result(
                "site",
                str(args.site),
                "release-unknown",
                "the releases did not verify; the site cannot be checked",
            )
        )
        return emit(report, args.format)
    head = verdict.chain[-1]
    report.context["head"] = f"{head.version}:{head.manifest_digest}"
    # A site reproduced from releases a dev root verified proves no more than they do.
    dev = any(release.dev for release in verdict.chain)
    for result in verify_site(site, verdict.chain, policy):
        report.add(dataclasses.replace(result, dev=True) if dev else result)
    return emit(report, args.format)
