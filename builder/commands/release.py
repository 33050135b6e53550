"""Freeze the runbooks into release VERSION, sign its manifest with Sigstore, write it once.

The identity token comes from $SIGSTORE_ID_TOKEN, a file ($SEALBOOK_ID_TOKEN_FILE or
--identity-token-file), or the CI's ambient OIDC credential; never from the command line.

--continue-from SITE|DIR brings the earlier releases in from where they were published (a
CI job starts without them) and verifies them under the policy before signing; with a
policy (--policy, or found as the verifier finds it when continuing), the new signature
must verify under it too before the release is written.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from builder.sign import DEFAULT_DEV_STATE, INSTANCES, TRUST_CONFIG_ENV, SigningTarget
from verifier.commands._options import add_releases, add_runbooks
from verifier.errors import EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("version", metavar="VERSION", help="release version, e.g. 2026.11.0")
    add_runbooks(parser)
    add_releases(parser)
    parser.add_argument(
        "--instance",
        choices=INSTANCES,
        default="production",
        help="Sigstore instance (default: production)",
    )
    parser.add_argument(
        "--trust-config",
        type=Path,
        default=Path(os.environ[TRUST_CONFIG_ENV]) if os.environ.get(TRUST_CONFIG_ENV) else None,
        help=f"ClientTrustConfig JSON of a private Sigstore deployment (default: ${TRUST_CONFIG_ENV})",
    )
    parser.add_argument(
        "--identity-token-file", type=Path, help="file holding the OIDC identity token"
    )
    parser.add_argument(
        "--continue-from",
        metavar="SITE|DIR",
        help="bring the earlier releases in from a published site (folder or URL) or a releases folder, verified under the policy",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        help="trust policy the chain and the new signature must verify under (default with --continue-from: $SEALBOOK_POLICY, then ./sealbook.toml)",
    )
    parser.add_argument(
        "--dev-state",
        type=Path,
        default=DEFAULT_DEV_STATE,
        help="dev instance state (with --instance dev)",
    )


def run(args: argparse.Namespace) -> int:
    from builder.lint import check_catalog
    from builder.release import make_release
    from builder.runbook import load_catalog

    catalog = load_catalog(args.runbooks)
    problems = check_catalog(catalog)
    errors = [p for p in problems if p.severity == "error"]
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if errors:
        sys.stderr.write(
            f"sealbook: release refused: {len(errors)} error(s) in {args.runbooks} (fix them; `sealbook check` lists them)\n"
        )
        return 1
    target = SigningTarget(
        args.instance, args.trust_config, args.identity_token_file, args.dev_state
    )
    policy = None
    if args.policy is not None or args.continue_from is not None:
        from verifier.policy import TrustPolicy

        policy = TrustPolicy.load(args.policy)
    folder = make_release(catalog, args.version, args.releases, target, policy, args.continue_from)
    dev = (
        " [DEV: signed by the loopback dev instance; proves nothing in production]"
        if args.instance == "dev" and not args.trust_config
        else ""
    )
    print(f"released {args.version}: {len(catalog.runbooks)} runbooks -> {folder}{dev}")
    return EXIT_OK
