"""Verify any Sigstore-signed file offline against a pinned trusted root and one identity."""

from __future__ import annotations

import argparse
from pathlib import Path

from verifier.commands._options import add_format, emit
from verifier.errors import VerificationError
from verifier.files import read_limited, read_regular
from verifier.policy import MAX_ROOT_BYTES, AllowedSigner, TrustPolicy, TrustRoot
from verifier.results import Report, Result
from verifier.signature import parse_bundle, verify_signature
from verifier.trust_roots import PRODUCTION_ROOT, PRODUCTION_ROOT_PINNED

MAX_ARTIFACT_BYTES = 1 << 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="the signed file")
    parser.add_argument("--bundle", type=Path, required=True, help="its Sigstore bundle")
    parser.add_argument(
        "--cert-identity", required=True, help="expected certificate identity (SAN)"
    )
    parser.add_argument("--cert-oidc-issuer", required=True, help="expected OIDC issuer")
    parser.add_argument(
        "--trusted-root",
        type=Path,
        help="trusted_root.json to verify under (default: sealbook's pinned production root)",
    )
    add_format(parser)


def run(args: argparse.Namespace) -> int:
    if args.trusted_root is None:
        root_path, pinned = PRODUCTION_ROOT, PRODUCTION_ROOT_PINNED
    else:
        root_path, pinned = args.trusted_root, None
    from verifier.errors import TrustError

    try:
        root_raw = read_regular(root_path, MAX_ROOT_BYTES)
    except OSError as exc:
        raise TrustError(
            str(root_path), f"cannot read the trusted root ({exc.strerror})", "check --trusted-root"
        ) from None
    root = TrustRoot(
        "given" if args.trusted_root else "production", root_path, False, pinned, root_raw
    )
    policy = TrustPolicy(
        source="command line",
        roots={root.name: root},
        signers=(AllowedSigner(args.cert_identity, args.cert_oidc_issuer, root.name),),
    )
    data = read_limited(args.file, MAX_ARTIFACT_BYTES, "the signed file")
    bundle = parse_bundle(read_limited(args.bundle, 1 << 20, "the bundle"), str(args.bundle))
    report = Report("bundle", context=policy.describe())
    try:
        facts = verify_signature(data, bundle, policy, str(args.file))
    except VerificationError as exc:
        report.add(Result("bundle", str(args.file), exc.reason, exc.detail))
    else:
        report.add(Result("bundle", str(args.file), "verified", "", facts=facts.to_json()))
    return emit(report, args.format)
