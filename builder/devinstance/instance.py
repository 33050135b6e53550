"""`DevInstance`: the dev Fulcio + CT + Rekor, started and stopped as one object."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from builder.devinstance import keys, oidc, trust
from builder.devinstance.ct import CTLog
from builder.devinstance.fulcio import CertificateAuthority
from builder.devinstance.rekor import LOG_FILE, TransparencyLog
from builder.devinstance.server import DevHTTPServer


class DevInstance:
    """Loopback Fulcio+CT+Rekor emulator with persisted keys under ``state_dir``.

    Its root certifies whatever identity a dev token names: a skeleton key for
    tests and demos, never for a production policy.
    """

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = Path(state_dir)
        self._server: DevHTTPServer | None = None

    @property
    def trust_config_path(self) -> Path:
        """``trust_config.json``: a ClientTrustConfig pointing at the live URL (after start)."""
        return self.state_dir / trust.TRUST_CONFIG_FILE

    @property
    def trusted_root_path(self) -> Path:
        """``trusted_root.json``: the dev trusted root, stable across restarts."""
        return self.state_dir / trust.TRUSTED_ROOT_FILE

    @property
    def policy_path(self) -> Path:
        """``sealbook.dev.toml``: a sealbook policy trusting the dev root for the dev identity."""
        return self.state_dir / trust.POLICY_FILE

    @property
    def url(self) -> str:
        """The base URL of the running instance (Fulcio and Rekor share it)."""
        if self._server is None:
            raise RuntimeError("the dev instance is not running; call start() first")
        return self._server.url

    def start(self) -> None:
        """Load or create the keys, bind 127.0.0.1 on a free port, serve in a daemon thread.

        (Re)writes the trusted root, the policy and the trust config (with the live URL).
        Starting a running instance does nothing.
        """
        if self._server is not None:
            return
        keys.prepare_state_dir(self.state_dir)
        with keys.state_lock(self.state_dir):
            material = keys.load_or_create(self.state_dir)
            trust.write_atomically(
                self.trusted_root_path, trust.to_json(trust.trusted_root(material))
            )
            trust.write_atomically(self.policy_path, trust.POLICY_TOML.encode())
        ca = CertificateAuthority(material.ca_key, material.ca_cert, CTLog(material.ct_key))
        log = TransparencyLog(self.state_dir / LOG_FILE, material.rekor_key)
        server = DevHTTPServer(ca, log)
        server.start()
        self._server = server
        trust.write_atomically(
            self.trust_config_path, trust.to_json(trust.trust_config(material, server.url))
        )

    def stop(self) -> None:
        """Stop serving; the keys and the log stay for the next start."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> DevInstance:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def identity_token(
        self,
        identity: str = oidc.DEV_IDENTITY,
        issuer: str = oidc.DEV_ISSUER,
        extra_claims: Mapping[str, object] | None = None,
    ) -> str:
        """An unsigned dev identity token (ten minutes) this instance will certify.

        ``extra_claims`` from `ciprovider.github_actions_claims` or `gitlab_ci_claims` stand
        in for a CI job's token: the certificate then carries Fulcio's CI extensions.
        """
        return oidc.identity_token(identity, issuer, extra_claims)
