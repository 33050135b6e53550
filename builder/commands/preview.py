"""Render an UNSIGNED preview site from the working tree, for authors.

Every page carries an "UNSIGNED PREVIEW — not a release" banner and a
<meta name="sealbook-preview"> marker; `sealbook-verify site` rejects it. No pinned run
commands are shown (nothing was signed, so there is nothing to pin).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from verifier.commands._options import add_runbooks
from verifier.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_runbooks(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site-preview"),
        help="published preview path, a symlink (default: ./site-preview)",
    )


def run(args: argparse.Namespace) -> int:
    from builder.release import History, freeze
    from builder.runbook import load_catalog
    from builder.site.assets import sealbook_version
    from builder.site.build import build_site
    from builder.site.inputs import now, preview_input, site_context

    catalog = load_catalog(args.runbooks)
    for problem in catalog.problems:
        sys.stderr.write(f"{problem}\n")
    manifest = freeze(catalog, "preview", History([], None), now(), None)
    release = preview_input(manifest.to_bytes(), manifest, catalog.root)
    site = site_context(None, sealbook_version(), preview=True)
    result = build_site([release], args.out, site, {})
    print(
        f"UNSIGNED PREVIEW built {args.out} -> {result.build.name}: {len(manifest.runbooks)} runbooks "
        f"({result.seconds:.1f} s); not a release, `sealbook-verify site` rejects it"
    )
    print(f"open {(args.out / 'index.html').absolute().as_uri()}")
    return EXIT_OK
