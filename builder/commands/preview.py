"""Render an UNSIGNED preview site from the working tree, for authors.

Every page carries an "UNSIGNED PREVIEW — not a release" banner and a
<meta name="sealbook-preview"> marker; `sealbook-verify site` rejects it. No pinned run
commands are shown (nothing was signed, so there is nothing to pin).

The preview runs the full `sealbook check`: every problem is printed (as `check` prints it)
and shown on the page it belongs to, beside its block; a runbook whose front matter cannot be
used still gets a page that says why it cannot be released. Exit status: 0 no errors, 1 at
least one error (the preview is built either way), 3 the folder cannot be read.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from verifier.commands._options import add_runbooks
from verifier.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_runbooks(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site-preview"),
        help="published preview path, a symlink (default: ./site-preview)",
    )


def run(args: argparse.Namespace) -> int:
    from builder.lint import check_catalog
    from builder.release import History, freeze
    from builder.runbook import load_catalog
    from builder.site.assets import sealbook_version
    from builder.site.build import build_site
    from builder.site.inputs import now, preview_input, preview_problems, site_context

    catalog = load_catalog(args.runbooks)
    problems = check_catalog(catalog)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    errors = sum(1 for p in problems if p.severity == "error")
    # Runbooks with a broken front matter are shown too (never released): their page says why.
    shown = dataclasses.replace(
        catalog, runbooks=tuple(sorted(catalog.runbooks + catalog.broken, key=lambda r: r.slug))
    )
    manifest = freeze(shown, "preview", History([], None), now(), None)
    release = preview_input(manifest.to_bytes(), manifest, catalog.root)
    site = site_context(None, sealbook_version(), preview=True)
    site = dataclasses.replace(site, problems=preview_problems(shown, problems))
    result = build_site([release], args.out, site, {})
    broken = f", {len(catalog.broken)} that cannot be released" if catalog.broken else ""
    print(
        f"UNSIGNED PREVIEW built {args.out} -> {result.build.name}: {len(manifest.runbooks)} "
        f"runbooks{broken} ({result.seconds:.1f} s); not a release, `sealbook-verify site` "
        f"rejects it; check: {errors} errors, {len(problems) - errors} warnings"
    )
    print(f"open {(args.out / 'index.html').absolute().as_uri()}")
    return EXIT_FAILED if errors else EXIT_OK
