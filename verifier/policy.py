"""The trust policy (``sealbook.toml``, table ``[trust]``): which roots, which signers.

```toml
[trust.roots.production]
trusted_root = "builtin:production"      # sealbook's pinned copy; or a path to trusted_root.json

[trust.roots.dev]                        # paths are relative to this file's folder
trusted_root = ".sealbook/dev-instance/trusted_root.json"
dev = true                               # everything it verifies shows as DEV

[[trust.signers]]                        # an issuer + exact identity, bound to one named root
identity = "https://github.com/acme/runbooks/.github/workflows/release.yml@refs/heads/main"
issuer = "https://token.actions.githubusercontent.com"
root = "production"

[[trust.signers]]                        # or an issuer + claims (see verifier/claims.py)
issuer = "https://token.actions.githubusercontent.com"
root = "production"
claims = { source_repository_uri = "https://github.com/acme/runbooks", source_repository_ref = "refs/tags/runbooks-*" }

[trust]
clock_skew_seconds = 300                 # tolerance for run-before-release checks

[site]
url = "https://runbooks.example.com/"   # optional: pinned commands then carry --from <url>

[run]
log = "/var/log/sealbook/runs.jsonl"     # optional: `sealbook run` logs here and nowhere else
```
Lookup: ``--policy``, then ``$SEALBOOK_POLICY``, then ``./sealbook.toml``. Never taken from
a releases folder or a site.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verifier import __version__
from verifier.digests import digest
from verifier.errors import TrustError
from verifier.files import read_regular
from verifier.trust_roots import BUILTIN_PRODUCTION, PRODUCTION_ROOT, PRODUCTION_ROOT_PINNED

if TYPE_CHECKING:
    from sigstore.verify import Verifier
    from sigstore.verify.policy import VerificationPolicy

DEFAULT_SKEW_SECONDS = 300
POLICY_ENV = "SEALBOOK_POLICY"
POLICY_FILE = "sealbook.toml"
MAX_POLICY_BYTES = 1 << 20


MAX_ROOT_BYTES = 16 << 20


@dataclass(frozen=True)
class TrustRoot:
    """A named Sigstore trusted root the policy accepts."""

    name: str
    path: Path
    dev: bool
    pinned: str | None
    """Date the root was pinned (the builtin production root); None for a file root."""
    raw: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """``sha256:`` of the trusted root file's bytes."""
        return digest(self.raw)

    def verifier(self) -> Verifier:
        """A sigstore `Verifier` for this root only (offline; imported lazily)."""
        return _verifier_for(self.path, self.raw)


_VERIFIERS: dict[str, Verifier] = {}


def _verifier_for(path: Path, raw: bytes) -> Verifier:
    key = digest(raw)
    if key not in _VERIFIERS:
        from sigstore.models import TrustedRoot
        from sigstore.verify import Verifier
        from sigstore_models.trustroot import v1 as trustroot_v1

        try:
            # Parsed from the bytes we fingerprinted: no second read of the file.
            root = TrustedRoot(trustroot_v1.TrustedRoot.from_json(raw))
        except Exception as exc:  # noqa: BLE001 - sigstore raises many types here
            raise TrustError(
                str(path),
                f"not a usable Sigstore trusted root ({type(exc).__name__})",
                "fix the policy's trusted_root",
            ) from None
        _VERIFIERS[key] = Verifier(trusted_root=root)
    return _VERIFIERS[key]


@dataclass(frozen=True)
class AllowedSigner:
    """An OIDC issuer plus an exact identity and/or claims, valid only under one named root."""

    identity: str | None
    """The certificate's exact SAN; None when the claims alone decide."""
    issuer: str
    root: str
    claims: tuple[tuple[str, str], ...] = ()
    """(claim, exact value or ``*`` glob) pairs matched against Fulcio extensions."""

    @property
    def label(self) -> str:
        """The rule in one line, for reports and the site."""
        parts = [self.identity] if self.identity else []
        parts += [f"{name}={value}" for name, value in self.claims]
        return ", ".join(parts)

    def sigstore_policy(self) -> VerificationPolicy:
        """This rule as one sigstore policy (issuer, identity, every claim must hold)."""
        from sigstore.verify import policy as sigpolicy

        from verifier.claims import claims_policy

        checks: list[VerificationPolicy] = []
        if self.identity is not None:
            checks.append(sigpolicy.Identity(identity=self.identity, issuer=self.issuer))
        else:
            # Fulcio writes the issuer twice (.1.1 raw, deprecated; .1.8 DER): either will do.
            checks.append(
                sigpolicy.AnyOf(
                    [sigpolicy.OIDCIssuer(self.issuer), sigpolicy.OIDCIssuerV2(self.issuer)]
                )
            )
        checks += claims_policy(self.claims)
        return sigpolicy.AllOf(checks)


@dataclass(frozen=True)
class TrustPolicy:
    """Roots and signers an auditor accepts; loaded from TOML, passed in explicitly."""

    source: str
    roots: dict[str, TrustRoot]
    signers: tuple[AllowedSigner, ...]
    site_url: str | None = None
    clock_skew_seconds: int = DEFAULT_SKEW_SECONDS
    raw: bytes = field(default=b"", repr=False)
    run_log: Path | None = None
    """``[run] log``: the one log `sealbook run` may append to (relative to the policy's
    folder); ``--log`` or ``$SEALBOOK_LOG`` naming another is refused."""

    @property
    def fingerprint(self) -> str:
        """``sha256:`` over the policy bytes and every root it names (for cache keys)."""
        parts = [self.raw] + [r.raw for _, r in sorted(self.roots.items())]
        return digest(b"\0".join(parts))

    @property
    def dev(self) -> bool:
        """True when any root of this policy is a dev root."""
        return any(r.dev for r in self.roots.values())

    def signers_for(self, root: str) -> list[AllowedSigner]:
        """The signers bound to ``root``."""
        return [s for s in self.signers if s.root == root]

    def describe(self) -> dict[str, str]:
        """Facts for reports: the sealbook version, the policy (path, digest), roots, signers.

        Every verifier report carries these, so a report says what it was checked against.
        """
        facts = {
            "sealbook": __version__,
            "policy": self.source,
            "policy digest": digest(self.raw),
            "clock skew": f"{self.clock_skew_seconds} s",
        }
        for i, signer in enumerate(self.signers, 1):
            facts[f"signer {i}"] = f"{signer.identity} (issuer {signer.issuer}, root {signer.root})"
        for name, root in sorted(self.roots.items()):
            pinned = (
                f", pinned {root.pinned} (offline: revocations after that date are not seen)"
                if root.pinned
                else ""
            )
            dev = " [DEV root: certifies any identity]" if root.dev else ""
            facts[f"root {name}"] = f"{root.fingerprint}{pinned}{dev}"
        return facts

    @classmethod
    def load(
        cls,
        explicit: Path | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> TrustPolicy:
        """Find and load the policy: ``explicit``, then ``$SEALBOOK_POLICY``, then ``./sealbook.toml``."""
        env = dict(os.environ) if env is None else env
        cwd = Path.cwd() if cwd is None else cwd
        if explicit is not None:
            path = explicit
        elif env.get(POLICY_ENV):
            path = Path(env[POLICY_ENV])
        elif (cwd / POLICY_FILE).is_file():
            path = cwd / POLICY_FILE
        else:
            raise TrustError(
                "trust policy",
                f"none found (no --policy, no ${POLICY_ENV}, no ./{POLICY_FILE})",
                "pass --policy FILE; see docs/releases.md#trust-policy-sealbooktoml",
            )
        try:
            raw = read_regular(path, MAX_POLICY_BYTES + 1)
        except OSError as exc:
            raise TrustError(
                str(path), f"cannot read the policy ({exc.strerror})", "check the path"
            ) from None
        if len(raw) > MAX_POLICY_BYTES:
            raise TrustError(str(path), "policy file larger than 1 MiB", "is this the right file?")
        return cls.from_toml(raw, path)

    @classmethod
    def from_toml(cls, raw: bytes, path: Path) -> TrustPolicy:
        """Parse policy TOML; relative root paths resolve against ``path``'s folder."""
        where = str(path)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise TrustError(where, f"not valid TOML ({exc})", "fix the policy file") from None
        except RecursionError:
            raise TrustError(
                where, "not valid TOML (nested too deeply)", "fix the policy file"
            ) from None
        except ValueError as exc:  # e.g. an integer beyond Python's digit limit
            raise TrustError(where, f"not valid TOML ({exc})", "fix the policy file") from None
        trust = data.get("trust")
        if not isinstance(trust, dict):
            raise TrustError(where, "no [trust] table", "add [trust.roots.*] and [[trust.signers]]")
        roots = _parse_roots(trust.get("roots"), path)
        signers = _parse_signers(trust.get("signers"), roots, where)
        skew = trust.get("clock_skew_seconds", DEFAULT_SKEW_SECONDS)
        if not isinstance(skew, int) or isinstance(skew, bool) or not 0 <= skew <= 86400:
            raise TrustError(
                where, "trust.clock_skew_seconds must be an integer 0..86400", "fix the policy file"
            )
        site = data.get("site", {})
        url = site.get("url") if isinstance(site, dict) else None
        if url is not None and (
            not isinstance(url, str) or not url.startswith(("https://", "http://"))
        ):
            raise TrustError(where, "site.url must be an http(s) URL", "fix the policy file")
        run = data.get("run", {})
        log = run.get("log") if isinstance(run, dict) else None
        if log is not None and (not isinstance(log, str) or not log or "\0" in log):
            raise TrustError(where, "run.log must be a file path", "fix the policy file")
        run_log = None if log is None else path.parent / log
        return cls(where, roots, signers, url, skew, raw, run_log)


def _parse_roots(value: Any, path: Path) -> dict[str, TrustRoot]:
    where = str(path)
    if not isinstance(value, dict) or not value:
        raise TrustError(where, "no trusted roots ([trust.roots.NAME])", "name at least one root")
    roots = {}
    for name, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("trusted_root"), str):
            raise TrustError(
                where, f'root {name!r} needs trusted_root = "..."', "fix the policy file"
            )
        ref: str = spec["trusted_root"]
        dev = spec.get("dev", False)
        if not isinstance(dev, bool):
            raise TrustError(
                where, f"root {name!r}: dev must be true or false", "fix the policy file"
            )
        if ref == BUILTIN_PRODUCTION:
            root_path, pinned = PRODUCTION_ROOT, PRODUCTION_ROOT_PINNED
        else:
            root_path, pinned = (path.parent / ref), None
        try:
            raw = read_regular(root_path, MAX_ROOT_BYTES)
        except OSError as exc:
            raise TrustError(
                where,
                f"trusted root {name!r} ({root_path}) cannot be read ({exc.strerror})",
                "fix the policy's trusted_root path",
            ) from None
        roots[name] = TrustRoot(name, root_path, dev, pinned, raw)
    return roots


def _parse_signers(
    value: Any, roots: dict[str, TrustRoot], where: str
) -> tuple[AllowedSigner, ...]:
    if not isinstance(value, list) or not value:
        raise TrustError(
            where,
            "no allowed signers ([[trust.signers]])",
            "add issuer, identity or claims, and root",
        )
    return tuple(
        _parse_signer(spec, roots, where, f"trust.signers[{i}]") for i, spec in enumerate(value)
    )


def _parse_signer(spec: Any, roots: dict[str, TrustRoot], where: str, label: str) -> AllowedSigner:
    """One signer: issuer + root, and an exact identity, claims, or both."""
    from verifier.claims import check_not_over_broad, parse_claims

    if not isinstance(spec, dict):
        raise TrustError(where, f"{label} must be a table", "fix the policy file")
    unknown = sorted(set(spec) - {"identity", "issuer", "root", "claims"})
    if unknown:
        raise TrustError(
            where,
            f"{label} has unknown keys {unknown}",
            "a signer takes issuer, root, identity and claims",
        )
    issuer, root, identity = spec.get("issuer"), spec.get("root"), spec.get("identity")
    if not (isinstance(issuer, str) and issuer and isinstance(root, str) and root) or (
        identity is not None and not (isinstance(identity, str) and identity)
    ):
        raise TrustError(where, f"{label} needs identity, issuer and root", "fix the policy file")
    if identity is None and "claims" not in spec:
        raise TrustError(
            where,
            f"{label} needs identity, issuer and root (or claims instead of identity)",
            "fix the policy file",
        )
    if root not in roots:
        raise TrustError(
            where, f"{label} names unknown root {root!r}", "define it under [trust.roots]"
        )
    claims = parse_claims(spec["claims"], where, label) if "claims" in spec else ()
    check_not_over_broad(identity, claims, where, label)
    return AllowedSigner(identity, issuer, root, claims)
