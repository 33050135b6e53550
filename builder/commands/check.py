"""Lint the runbooks: front matter, snippet ids, console transcripts, `bash -n`, Trojan Source.

Prints one line per problem (`path:line: severity: message [code]`) and a summary, or with
``--format json`` one document (``sealbook.check-report/v1``) for tools that annotate reviews.
Exit status: 0 clean (warnings allowed), 1 at least one error, 3 the folder cannot be read.
The rules and codes are listed in docs/runbook-format.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from builder.lint import check_catalog
from builder.runbook import load_catalog
from verifier.commands._options import add_format, add_runbooks
from verifier.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook check`."""
    add_runbooks(parser)
    add_format(parser)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def run(args: argparse.Namespace) -> int:
    """Check every runbook under ``--runbooks``; print the problems and a summary."""
    catalog = load_catalog(args.runbooks)
    problems = check_catalog(catalog)
    errors = sum(1 for p in problems if p.severity == "error")
    warnings = len(problems) - errors
    snippets = sum(len(r.snippets) for r in catalog.runbooks)
    if args.format == "json":
        doc = {
            "schema": "sealbook.check-report/v1",
            "runbooks": str(args.runbooks),
            "problems": [
                {
                    "path": p.path,
                    "line": p.line,
                    "severity": p.severity,
                    "code": p.code,
                    "message": p.message,
                }
                for p in problems
            ],
            "summary": {
                "runbooks": len(catalog.runbooks),
                "snippets": snippets,
                "errors": errors,
                "warnings": warnings,
            },
        }
        # ASCII with every other character escaped: hostile text cannot forge output.
        sys.stdout.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=True) + "\n")
        return EXIT_FAILED if errors else EXIT_OK
    for problem in problems:
        sys.stdout.write(f"{problem}\n")
    verdict = "FAILED" if errors else "ok"
    sys.stdout.write(
        f"{verdict}: {_plural(len(catalog.runbooks), 'runbook')}, "
        f"{_plural(snippets, 'snippet')} checked in {args.runbooks}: "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}\n"
    )
    return EXIT_FAILED if errors else EXIT_OK
