"""Verify every release and the chain, then render the catalog site and publish it atomically.

Nothing is written unless every release and the chain verify under the policy. The site is
built into a fresh folder beside --out and published by flipping the --out symlink; a
failed build leaves the previous site untouched. See docs/site.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.commands._options import add_expect_latest, add_policy, add_releases
from verifier.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_releases(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site"),
        help="published site path, a symlink (default: ./site)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="signature verdict cache, shared with `sealbook run` "
        "(default: $SEALBOOK_CACHE_DIR, else ~/.cache/sealbook/verdicts)",
    )
    add_policy(parser)
    add_expect_latest(
        parser, "anchored head of the chain (refuse to build if the newest release differs)"
    )


def run(args: argparse.Namespace) -> int:
    from builder.site.assets import sealbook_version
    from builder.site.build import build_site
    from builder.site.cache import proven_sources
    from builder.site.inputs import release_input, root_files, site_context
    from builder.site.publish import current_build
    from builder.site.render import preload
    from builder.verdict_cache import PolicyVerdicts, VerdictCache, default_cache_dir
    from verifier.policy import TrustPolicy
    from verifier.release import Anchor, release_folders, verify_releases
    from verifier.results import Report, render_text

    anchor = Anchor.parse(args.expect_latest) if args.expect_latest else None
    policy = TrustPolicy.load(args.policy)
    # Frozen sources the previous build's verification proved (re-hashed unless unchanged).
    known = proven_sources(current_build(args.out.absolute()))
    # Signatures verified before over exactly these bytes and this policy are not verified
    # again (the per-user verdict cache of `sealbook run`); manifests are checked in full.
    cache = VerdictCache(args.cache_dir or default_cache_dir())
    verdicts = PolicyVerdicts(cache, policy)
    verdicts.prefetch(release_folders(args.releases))
    preload()  # while the child verifies what the cache lacks
    try:
        verdict = verify_releases(args.releases, policy, anchor, known, verdicts)
    finally:
        verdicts.wait()
    if not verdict.ok:
        report = Report("releases", verdict.results, context=policy.describe())
        sys.stderr.write(render_text(Report("releases", report.failed)))
        sys.stderr.write(
            f"sealbook: build refused: {len(report.failed)} release check(s) failed in {args.releases}; nothing was written\n"
        )
        return EXIT_FAILED
    releases = [release_input(rel) for rel in verdict.chain]
    site = site_context(policy, sealbook_version(), preview=False)
    proven = {p: e for rel in verdict.chain for p, e in rel.proven.items()}
    result = build_site(releases, args.out, site, root_files(policy), proven=proven)
    for note in result.notes:
        sys.stderr.write(f"sealbook: note: {note}\n")
    head = verdict.chain[-1]
    dev = " [DEV: verified against a dev root]" if any(r.dev for r in verdict.chain) else ""
    print(
        f"built {args.out} -> {result.build.name}: {len(releases)} release(s), head {head.version}:{head.manifest_digest}; "
        f"{result.files} files, {result.rendered} pages rendered, {result.reused} reused, {result.seconds:.1f} s{dev}"
    )
    print(f"open {(args.out / 'index.html').absolute().as_uri()}")
    return EXIT_OK
