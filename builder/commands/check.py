"""Lint the runbooks: front matter, snippet ids, console transcripts, `bash -n`, Trojan Source.

Prints one line per problem (`path:line: severity: message [code]`) and a summary; with
``--format json`` one document (``sealbook.check-report/v1``) for tools that annotate reviews;
with ``--format github`` GitHub Actions workflow commands (``::warning file=...,line=...``), so
a pull request shows each problem on its line.
Exit status: 0 clean (warnings allowed), 1 at least one error, 3 the folder cannot be read.
The rules and codes are listed in docs/runbook-format.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from builder.lint import check_catalog
from builder.runbook import Problem, load_catalog
from verifier.commands._options import add_runbooks
from verifier.errors import EXIT_FAILED, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `sealbook check`."""
    add_runbooks(parser)
    parser.add_argument(
        "--format", choices=["text", "json", "github"], default="text", help="output format"
    )


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
        sys.stdout.write(f"{_github(problem) if args.format == 'github' else problem}\n")
    verdict = "FAILED" if errors else "ok"
    sys.stdout.write(
        f"{verdict}: {_plural(len(catalog.runbooks), 'runbook')}, "
        f"{_plural(snippets, 'snippet')} checked in {args.runbooks}: "
        f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}\n"
    )
    return EXIT_FAILED if errors else EXIT_OK


def _github(problem: Problem) -> str:
    """A GitHub Actions annotation; hostile text cannot end the command or forge another."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    level = "error" if problem.severity == "error" else "warning"
    where = f"file={prop(problem.path)},line={problem.line},title={prop(problem.code)}"
    line = f"::{level} {where}::{data(problem.message)}"
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in line)
