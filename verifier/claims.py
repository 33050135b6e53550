"""Signer rules on claims: values matched against a Fulcio certificate's extensions.

Fulcio copies facts from a CI job's OIDC token into X.509 extensions (OIDs under
``1.3.6.1.4.1.57264.1``): the source repository, the workflow that signed, the ref, the
trigger. A policy signer may name some of them instead of (or beside) one exact identity,
so one rule accepts every tag a workflow releases from:

```toml
[[trust.signers]]
issuer = "https://token.actions.githubusercontent.com"
root = "production"
[trust.signers.claims]
source_repository_uri = "https://github.com/acme/runbooks"
source_repository_ref = "refs/tags/runbooks-*"
build_trigger = "push"
```

Exact values are checked with sigstore's own policy objects; a value holding ``*`` (a
glob: any run of characters, ``/`` included) is checked here over the decoded extension.
A rule that would accept any repository is refused when the policy loads (exit 4):

- without an exact ``identity``, one repository claim must be pinned exactly
  (``source_repository_uri``, ``source_repository_identifier`` or
  ``github_workflow_repository``);
- a repository or owner claim never takes a glob;
- a ref glob starts with ``refs/heads/`` or ``refs/tags/`` before its first ``*``;
- a workflow URI (``build_signer_uri``, ``build_config_uri``) may glob only its ref,
  after the ``@``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from verifier.errors import TrustError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.verify.policy import VerificationPolicy

FULCIO_OID_PREFIX = "1.3.6.1.4.1.57264.1."
GLOB = "*"

Kind = Literal["repository", "owner", "ref", "workflow", "exact"]


@dataclass(frozen=True)
class ClaimSpec:
    """One claim a rule may name: its Fulcio extension and how it may be matched."""

    oid: str
    """Last arc under ``1.3.6.1.4.1.57264.1``."""
    der: bool
    """True: a DER UTF8String (Fulcio's v2 extensions); False: raw bytes (the legacy ones)."""
    sigstore_class: str
    """The `sigstore.verify.policy` class that checks an exact value."""
    kind: Kind


CLAIMS: dict[str, ClaimSpec] = {
    "source_repository_uri": ClaimSpec("12", True, "OIDCSourceRepositoryURI", "repository"),
    "source_repository_identifier": ClaimSpec(
        "15", True, "OIDCSourceRepositoryIdentifier", "repository"
    ),
    "github_workflow_repository": ClaimSpec("5", False, "GitHubWorkflowRepository", "repository"),
    "source_repository_owner_uri": ClaimSpec("16", True, "OIDCSourceRepositoryOwnerURI", "owner"),
    "source_repository_owner_identifier": ClaimSpec(
        "17", True, "OIDCSourceRepositoryOwnerIdentifier", "owner"
    ),
    "source_repository_ref": ClaimSpec("14", True, "OIDCSourceRepositoryRef", "ref"),
    "github_workflow_ref": ClaimSpec("6", False, "GitHubWorkflowRef", "ref"),
    "build_signer_uri": ClaimSpec("9", True, "OIDCBuildSignerURI", "workflow"),
    "build_config_uri": ClaimSpec("18", True, "OIDCBuildConfigURI", "workflow"),
    "build_trigger": ClaimSpec("20", True, "OIDCBuildTrigger", "exact"),
    "github_workflow_trigger": ClaimSpec("2", False, "GitHubWorkflowTrigger", "exact"),
    "github_workflow_name": ClaimSpec("4", False, "GitHubWorkflowName", "exact"),
    "runner_environment": ClaimSpec("11", True, "OIDCRunnerEnvironment", "exact"),
    "source_repository_visibility": ClaimSpec(
        "22", True, "OIDCSourceRepositoryVisibility", "exact"
    ),
}
REPOSITORY_CLAIMS = tuple(name for name, spec in CLAIMS.items() if spec.kind == "repository")
REF_GLOB_PREFIXES = ("refs/heads/", "refs/tags/")


def parse_claims(value: object, where: str, label: str) -> tuple[tuple[str, str], ...]:
    """Validate a signer's ``claims`` table; return its (name, value) pairs, sorted."""
    if not isinstance(value, dict) or not value:
        raise TrustError(
            where,
            f"{label}.claims must be a non-empty table",
            "name claims such as source_repository_uri",
        )
    pairs = []
    for name, expected in sorted(value.items()):
        spec = CLAIMS.get(name)
        if spec is None:
            raise TrustError(
                where,
                f"{label}.claims: unknown claim {name!r}",
                f"use one of {', '.join(sorted(CLAIMS))}",
            )
        if not isinstance(expected, str) or not expected:
            raise TrustError(
                where, f"{label}.claims.{name} must be a non-empty string", "fix the policy file"
            )
        _check_glob(name, spec, expected, where, label)
        pairs.append((name, expected))
    return tuple(pairs)


def _check_glob(name: str, spec: ClaimSpec, value: str, where: str, label: str) -> None:
    """Refuse a glob where it could widen the rule beyond one repository."""
    if GLOB not in value:
        return
    problem = None
    if spec.kind in ("repository", "owner"):
        problem = (
            "names a repository or owner and takes no glob: it would accept other repositories"
        )
    elif spec.kind == "exact":
        problem = "takes no glob"
    elif spec.kind == "ref" and not value.split(GLOB, 1)[0].startswith(REF_GLOB_PREFIXES):
        problem = "is a glob that does not start with refs/heads/ or refs/tags/"
    elif spec.kind == "workflow" and ("@" not in value or GLOB in value.rsplit("@", 1)[0]):
        problem = "may glob only its ref (after the @), never the repository or workflow path"
    if problem:
        raise TrustError(
            where,
            f"{label}.claims.{name} = {value!r} {problem}",
            "name the value exactly (a rule must not accept any repository)",
        )


def check_not_over_broad(
    identity: str | None, claims: tuple[tuple[str, str], ...], where: str, label: str
) -> None:
    """A rule without an exact identity must pin one repository exactly."""
    if identity is not None:
        return
    if not any(name in REPOSITORY_CLAIMS for name, _ in claims):
        raise TrustError(
            where,
            f"{label} pins no repository: these claims would accept any repository",
            f"add one of {', '.join(REPOSITORY_CLAIMS)} (or an exact identity)",
        )


def claims_policy(claims: tuple[tuple[str, str], ...]) -> list[VerificationPolicy]:
    """Sigstore policies checking ``claims``: sigstore's own classes for exact values."""
    from sigstore.verify import policy as sigpolicy

    checks: list[VerificationPolicy] = []
    for name, expected in claims:
        spec = CLAIMS[name]
        if GLOB in expected:
            checks.append(GlobClaim(name, spec, expected))
        else:
            checks.append(getattr(sigpolicy, spec.sigstore_class)(expected))
    return checks


class GlobClaim:
    """A sigstore-style policy: one Fulcio extension matches a ``*`` glob."""

    def __init__(self, name: str, spec: ClaimSpec, pattern: str) -> None:
        self._name = name
        self._spec = spec
        self._pattern = pattern
        self._regex = re.compile(".*".join(re.escape(part) for part in pattern.split(GLOB)))

    def verify(self, cert: Certificate) -> None:
        """Raise sigstore's `VerificationError` unless the extension matches the glob."""
        from sigstore.errors import VerificationError

        value = extension_value(cert, self._spec)
        if value is None or self._regex.fullmatch(value) is None:
            raise VerificationError(
                f"certificate's {self._name} is {value!r}, not matching {self._pattern!r}"
            )


def extension_value(cert: Certificate, spec: ClaimSpec) -> str | None:
    """The decoded value of ``spec``'s extension in ``cert``, or None when absent or unreadable."""
    from cryptography import x509

    oid = x509.ObjectIdentifier(FULCIO_OID_PREFIX + spec.oid)
    try:
        ext = cert.extensions.get_extension_for_oid(oid).value
    except x509.ExtensionNotFound:
        return None
    if not isinstance(ext, x509.UnrecognizedExtension):
        return None
    raw = ext.value
    if spec.der:
        from cryptography.hazmat import asn1

        try:
            decoded = asn1.decode_der(str, raw)
        except ValueError:
            return None
        return decoded if isinstance(decoded, str) else None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def certificate_claims(cert: Certificate, names: tuple[str, ...]) -> dict[str, str]:
    """The named claims present in ``cert``, for messages."""
    found = {}
    for name in names:
        value = extension_value(cert, CLAIMS[name])
        if value is not None:
            found[name] = value
    return found
