"""Sign bytes keyless with sigstore's real `SigningContext`.

Instances: ``production`` and ``staging`` (Sigstore's public-good services, via TUF),
a private deployment from a ClientTrustConfig file (``--trust-config``), and ``dev``
(sealbook's loopback emulator, started in-process for the signing).

The identity token comes from ``$SIGSTORE_ID_TOKEN``, a file named by
``$SEALBOOK_ID_TOKEN_FILE`` / ``--identity-token-file``, the CI's ambient OIDC
credential (GitHub Actions, GitLab, ...), or for ``dev`` from the dev instance.
Never from the command line, where ``ps`` would show it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from verifier.errors import InputError, SealbookError, TrustError

if TYPE_CHECKING:
    from sigstore.sign import SigningContext

INSTANCES = ("production", "staging", "dev")
TOKEN_ENV = "SIGSTORE_ID_TOKEN"  # noqa: S105 - a variable name, not a secret
TOKEN_FILE_ENV = "SEALBOOK_ID_TOKEN_FILE"  # noqa: S105 - a variable name
TRUST_CONFIG_ENV = "SEALBOOK_TRUST_CONFIG"
DEFAULT_DEV_STATE = Path(".sealbook/dev-instance")


class SigningError(SealbookError):
    """Signing failed (no token, instance unreachable, rejected)."""


@dataclass(frozen=True)
class SigningTarget:
    """Where and as whom to sign."""

    instance: str = "production"
    trust_config: Path | None = None
    token_file: Path | None = None
    dev_state: Path = DEFAULT_DEV_STATE


@contextmanager
def signer_for(target: SigningTarget) -> Iterator[SigningSession]:
    """A signing session for ``target``; starts and stops the dev instance if needed."""
    from sigstore.models import ClientTrustConfig
    from sigstore.sign import SigningContext

    if target.instance == "dev" and target.trust_config is None:
        from builder.devinstance import DevInstance

        with DevInstance(target.dev_state) as dev:
            config = ClientTrustConfig.from_json(dev.trust_config_path.read_text(encoding="utf-8"))
            yield SigningSession(
                SigningContext.from_trust_config(config), _token(target, dev.identity_token())
            )
        return
    # The token first: a missing CI permission is reported before any network is needed.
    token = _token(target, None)
    if target.trust_config is not None:
        try:
            raw = target.trust_config.read_text(encoding="utf-8")
            config = ClientTrustConfig.from_json(raw)
        except OSError as exc:
            raise TrustError(
                str(target.trust_config), f"cannot read ({exc.strerror})", "check --trust-config"
            ) from None
        except Exception as exc:  # noqa: BLE001 - pydantic/sigstore errors
            raise TrustError(
                str(target.trust_config),
                f"not a ClientTrustConfig ({type(exc).__name__})",
                "check --trust-config",
            ) from None
        yield SigningSession(SigningContext.from_trust_config(config), token)
        return
    try:
        config = (
            ClientTrustConfig.staging()
            if target.instance == "staging"
            else ClientTrustConfig.production()
        )
    except Exception as exc:  # noqa: BLE001 - TUF/network errors of many kinds
        raise SigningError(
            f"sigstore {target.instance}",
            f"cannot fetch the trust configuration ({type(exc).__name__})",
            "signing with a public instance needs network; use --trust-config or --instance dev offline",
        ) from None
    yield SigningSession(SigningContext.from_trust_config(config), token)


def _token(target: SigningTarget, dev_token: str | None) -> str:
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    token_file = target.token_file or (
        Path(os.environ[TOKEN_FILE_ENV]) if os.environ.get(TOKEN_FILE_ENV) else None
    )
    if token_file is not None:
        try:
            return token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InputError(
                str(token_file),
                f"cannot read the identity token ({exc.strerror})",
                "check the token file",
            ) from None
    if dev_token is not None:
        return dev_token
    ambient = ambient_credential()
    if ambient:
        return ambient
    raise SigningError(
        "identity token",
        f"none found (no ${TOKEN_ENV}, no ${TOKEN_FILE_ENV}, and no CI credential detected: "
        "GitHub Actions, GitLab CI, CircleCI, Buildkite or Google Cloud)",
        f"in CI grant the job an OIDC token: {GITHUB_FIX}; {GITLAB_FIX}",
    )


GITHUB_FIX = "GitHub Actions: `permissions: id-token: write` on the job"
GITLAB_FIX = "GitLab CI: `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` on the job"
AMBIENT_FIXES = {
    "GitHub": "the token service did not give a token; re-run the job, and check " + GITHUB_FIX,
    "GitLab": "add `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` to the job",
    "CircleCI": "run in a CircleCI job with the `circleci` CLI on PATH (it mints the OIDC token)",
    "Buildkite": "run on a Buildkite agent with `buildkite-agent` on PATH",
    "GCP": "check the service account ($GOOGLE_SERVICE_ACCOUNT_NAME) and the metadata server",
}


def ambient_credential() -> str | None:
    """The CI's ambient OIDC token (``id``'s detectors), or None outside CI.

    A CI detected but unable to give a token is a `SigningError` carrying the detector's own
    message and the fix for that CI.
    """
    import id as oidc_id

    try:
        return oidc_id.detect_credential("sigstore")
    except oidc_id.GitHubOidcPermissionCredentialError as exc:
        fix = "give the job `permissions: id-token: write` (a pull request from a fork never gets one)"
        raise SigningError("ambient CI credential", str(exc), fix) from None
    except oidc_id.IdentityError as exc:
        message = str(exc) or type(exc).__name__
        provider = message.split(":", 1)[0]
        fix = AMBIENT_FIXES.get(
            provider, "the CI's token must have audience `sigstore`; " + GITLAB_FIX
        )
        raise SigningError("ambient CI credential", message, fix) from None


class SigningSession:
    """Signs artifacts with one identity token."""

    def __init__(self, context: SigningContext, token: str) -> None:
        self._context = context
        self._token = token

    def sign(self, data: bytes) -> bytes:
        """Sign ``data``; return the Sigstore bundle (v0.3) as JSON bytes."""
        from sigstore.oidc import ExpiredIdentity, IdentityError, IdentityToken

        try:
            identity = IdentityToken(self._token)
        except (IdentityError, ExpiredIdentity) as exc:
            raise SigningError(
                "identity token", f"not usable ({exc})", "get a fresh OIDC token"
            ) from None
        try:
            with self._context.signer(identity, cache=True) as signer:
                bundle = signer.sign_artifact(data)
        except Exception as exc:  # noqa: BLE001 - network and service errors of many kinds
            raise SigningError(
                "signing",
                f"the Sigstore instance refused or failed ({type(exc).__name__}: {str(exc)[:160]})",
                "check the instance and the token",
            ) from None
        return bundle.to_json().encode("utf-8")
