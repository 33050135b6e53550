"""Show what the next release would sign, against the newest release in ``--releases``.

Runbooks added, changed and retired; per runbook, snippets added, changed (with a unified diff
of the signed text), removed, renamed (same text, new id), executable <-> reference flips,
language and parameter changes, front-matter changes. ``--format markdown`` is ready for a
pull-request comment; ``--format json`` (``sealbook.diff-report/v1``) is for tools.

The releases are read structurally, as `sealbook release` reads the chain: signatures are NOT
verified (run `sealbook-verify releases` for that); the diff is a review aid.
Exit status: 0 nothing would change, 1 something would, 3 an input cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys

from verifier.commands._options import add_releases, add_runbooks
from verifier.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook diff`."""
    add_runbooks(parser)
    add_releases(parser)
    parser.add_argument(
        "--format", choices=["text", "markdown", "json"], default="text", help="output format"
    )


def run(args: argparse.Namespace) -> int:
    """Freeze the working tree as the next release would and compare it with the newest."""
    from builder.diff import diff_manifests, render_markdown, render_text, to_json
    from builder.lint import check_catalog
    from builder.release import freeze, read_history
    from builder.runbook import load_catalog

    history = read_history(args.releases)
    catalog = load_catalog(args.runbooks)
    errors = sum(1 for p in check_catalog(catalog) if p.severity == "error")
    # The version and time are placeholders: only what the runbooks sign is compared.
    next_release = freeze(catalog, "next", history, "", None)
    diff = diff_manifests(history.head, next_release)
    if args.format == "json":
        doc = to_json(diff) | {"check_errors": errors}
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(render_markdown(diff, str(args.runbooks)))
        if errors:
            sys.stdout.write(
                f"\n> [!WARNING]\n> `sealbook check` finds {errors} error(s): "
                "the release would be refused until they are fixed.\n"
            )
    else:
        sys.stdout.write(render_text(diff, str(args.runbooks)))
    if errors and args.format != "markdown":
        sys.stderr.write(
            f"sealbook: note: {errors} error(s) in {args.runbooks}: `sealbook release` would "
            "refuse it (run `sealbook check`)\n"
        )
    return EXIT_FAILED if diff.changed else EXIT_OK
