"""Internal and unstable: the one place where sealbook's CLIs turn errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn, Protocol

from verifier import __version__
from verifier.errors import EXIT_USAGE, SealbookError

INTERNAL_ERROR = 70


class Command(Protocol):
    """What a command module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: usage error: {message} (see --help)\n")
        raise SystemExit(EXIT_USAGE)


def run_main(
    prog: str, description: str, commands: dict[str, tuple[str, str]], argv: Sequence[str] | None
) -> int:
    """Parse ``argv``, run the chosen command module, map errors to exit codes.

    ``commands`` maps a sub-command name to (module, one-line help); modules are
    imported only when chosen, so a command never pays for another's imports.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument(
        "--version", action="version", version=f"{prog} {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in commands.items():
        if name == chosen:
            module: Command = importlib.import_module(module_name)
            p = sub.add_parser(name, help=help_text, description=module.__doc__)
            p.set_defaults(_module=module)
            module.add_arguments(p)
        else:
            # Cheap placeholder for --help listings; never imported.
            sub.add_parser(name, help=help_text, add_help=False)
    if any("\0" in a for a in argv):  # only possible in-process; paths cannot hold NUL
        parser.error("an argument contains a NUL byte")
    args = parser.parse_args(argv)
    verbose = args.verbose or os.environ.get("SEALBOOK_DEBUG") == "1"
    try:
        return int(args._module.run(args))
    except SealbookError as exc:
        if verbose:
            traceback.print_exc()
        sys.stderr.write(f"{prog}: {exc.diagnostics()}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # noqa: BLE001 - the one last-resort handler
        if verbose:
            traceback.print_exc()
        kind = type(exc).__name__
        sys.stderr.write(
            f"{prog}: internal error ({kind}: {str(exc)[:200]}); rerun with --verbose and report it\n"
        )
        return INTERNAL_ERROR


def exit_now(code: int) -> NoReturn:
    """End a console command: flush its output, then exit without interpreter teardown.

    A build or a site check holds hundreds of thousands of objects; freeing them one by one
    at exit takes a quarter of a second and changes nothing (every file is closed by now,
    and no sealbook code registers exit handlers).
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        code = code or 1
    os._exit(code)
