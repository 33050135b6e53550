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
from verifier.errors import EXIT_OK, InputError, UsageError

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
    ci = parser.add_mutually_exclusive_group()
    ci.add_argument(
        "--github",
        metavar="OWNER/REPO@REF",
        help="print a token with the claims of a GitHub Actions job instead (e.g. acme/runbooks@refs/tags/runbooks-1.0)",
    )
    ci.add_argument(
        "--gitlab",
        metavar="GROUP/PROJECT@REF",
        help="print a token with the claims of a GitLab CI job instead (ref: refs/tags/T or refs/heads/B)",
    )
    parser.add_argument(
        "--trigger",
        default="push",
        help="the CI job's trigger (GitHub event_name, GitLab pipeline_source; default: push)",
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


def _ci_claims(args: argparse.Namespace) -> dict[str, object] | None:
    """The claims of the CI job ``--github`` or ``--gitlab`` names, if either."""
    from builder.devinstance.ciprovider import github_actions_claims, gitlab_ci_claims

    spec = args.github or args.gitlab
    if spec is None:
        return None
    repository, _, ref = spec.partition("@")
    if not repository.count("/") or not ref.startswith(("refs/heads/", "refs/tags/")):
        raise UsageError(spec, "not REPOSITORY@REF", "e.g. acme/runbooks@refs/tags/runbooks-1.0")
    if args.github:
        return github_actions_claims(repository, ref, event_name=args.trigger)
    kind, name = ref[len("refs/") :].split("/", 1)
    return gitlab_ci_claims(
        repository,
        name,
        ref_type="branch" if kind == "heads" else "tag",
        pipeline_source=args.trigger,
    )


def run(args: argparse.Namespace) -> int:
    """Print a token, or serve until Ctrl-C / SIGTERM; exit 0 on a clean stop."""
    if args.print_token:
        print(DevInstance(args.state).identity_token(args.identity, args.issuer, _ci_claims(args)))
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
