"""Sign the sample catalog with the loopback dev instance, verify, build, run and audit it, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from builder.demo import DEFAULT_DIR, Demo


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"the demo's own folder, recreated on every run (default: ./{DEFAULT_DIR})",
    )


def run(args: argparse.Namespace) -> int:
    Demo(args.dir).run()
    return 0
