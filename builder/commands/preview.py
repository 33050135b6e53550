"""Render an UNSIGNED preview site from the working tree, for authors.

Every page carries an "UNSIGNED PREVIEW — not a release" banner and a
<meta name="sealbook-preview"> marker; `sealbook-verify site` rejects it. No pinned run
commands are shown (nothing was signed, so there is nothing to pin).

The preview runs the full `sealbook check`: every problem is printed (as `check` prints it)
and shown on the page it belongs to, beside its block; a runbook whose front matter cannot be
used still gets a page that says why it cannot be released. Exit status: 0 no errors, 1 at
least one error (the preview is built either way), 3 the folder cannot be read.

``--serve`` serves it on 127.0.0.1 (`builder.serve`), rebuilds on every save (problems printed
each time, shown on the pages) and reloads the open page; it keeps serving through errors and
exits 0 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from verifier.commands._options import add_runbooks
from verifier.errors import EXIT_FAILED, EXIT_OK, SealbookError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_runbooks(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("site-preview"),
        help="published preview path, a symlink (default: ./site-preview)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="serve the preview on 127.0.0.1, rebuild on save and reload the page (Ctrl-C stops)",
    )
    parser.add_argument(
        "--port", type=int, default=8000, help="port for --serve (default: 8000; 0: any free port)"
    )


def run(args: argparse.Namespace) -> int:
    """Build the preview once; with ``--serve``, serve it and rebuild on every change."""
    code = build(args)
    if not args.serve:
        return code
    from builder.serve import serve

    def rebuild() -> None:
        try:
            build(args)
        except SealbookError as exc:  # keep serving: the author is fixing it
            sys.stderr.write(f"sealbook: preview not rebuilt: {exc}\n")

    serve(args.out, args.runbooks, rebuild, args.port)
    return EXIT_OK


def build(args: argparse.Namespace) -> int:
    """Check the runbooks, print every problem, build and publish the preview; the exit code."""
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
    if not args.serve:
        print(f"open {(args.out / 'index.html').absolute().as_uri()}")
    sys.stdout.flush()
    return EXIT_FAILED if errors else EXIT_OK
