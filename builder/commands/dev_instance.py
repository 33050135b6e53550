"""Start the loopback dev Sigstore instance (Fulcio + CT + Rekor on 127.0.0.1) and serve until
Ctrl-C or SIGTERM. Its root certifies ANY identity: for tests and demos, never for production.

`--print-token` prints a dev identity token and exits, for
`export SIGSTORE_ID_TOKEN="$(sealbook dev-instance --print-token)"`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from builder.devinstance import DEV_IDENTITY, DEV_ISSUER, DevInstance
from verifier.errors import EXIT_OK, InputError

DEFAULT_STATE = Path(".sealbook/dev-instance")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Wire the dev-instance options."""
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE,
        metavar="DIR",
        help=f"folder for keys, log, trusted root and policy (default: ./{DEFAULT_STATE})",
    )
    parser.add_argument(
        "--print-token",
        action="store_true",
        help="print an unsigned dev identity token (valid 10 minutes) and exit",
    )
    parser.add_argument(
        "--identity",
        default=DEV_IDENTITY,
        help=f"identity (email or URI) the printed token names (default: {DEV_IDENTITY})",
    )
    parser.add_argument(
        "--issuer",
        default=DEV_ISSUER,
        help=f"OIDC issuer the printed token names (default: {DEV_ISSUER})",
    )


def _banner(instance: DevInstance) -> str:
    return f"""\
sealbook dev instance serving at {instance.url}
  DEV ONLY: its root certifies ANY identity; never list it in a production policy.
  trust config: {instance.trust_config_path}
  trusted root: {instance.trusted_root_path}
  dev policy:   {instance.policy_path}
Sign against it from another shell:
  export SIGSTORE_ID_TOKEN="$(sealbook dev-instance --print-token)"
  sealbook release VERSION --trust-config {instance.trust_config_path}
Verify with the dev policy:
  export SEALBOOK_POLICY={instance.policy_path}
Stop with Ctrl-C.
"""


def run(args: argparse.Namespace) -> int:
    """Print a token, or serve until Ctrl-C / SIGTERM; exit 0 on a clean stop."""
    if args.print_token:
        print(DevInstance(args.state).identity_token(args.identity, args.issuer))
        return EXIT_OK
    instance = DevInstance(args.state)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Handlers before start: a signal arriving during start-up still stops cleanly.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        instance.start()
    except OSError as exc:
        raise InputError(
            str(args.state),
            f"cannot use the dev instance state folder ({exc.strerror or exc})",
            "choose another --state folder",
        ) from None
    try:
        sys.stdout.write(_banner(instance))
        sys.stdout.flush()
        # wait() with a timeout lets the main thread run the signal handlers promptly.
        while not stop.wait(timeout=1.0):
            pass
    finally:
        instance.stop()
    sys.stderr.write("sealbook: dev instance stopped\n")
    return EXIT_OK
