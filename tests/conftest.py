"""Shared fixtures: the real Sigstore fixtures, a socket guard, CLI runners."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(
    os.environ.get("SEALBOOK_FIXTURES", REPO.parent / "shared" / "fixtures" / "sigstore-real")
)


REQUIRE_SHARED = "SEALBOOK_REQUIRE_SHARED"
"""Set to 1 (``.ci/run`` does) to make missing shared test data a failure instead of a skip."""


def require_shared(path: Path, what: str, probe: str | None = None) -> None:
    """Skip with one line when ``../shared`` test data is not beside the clone; fail under CI.

    A plain clone has no ``../shared``: its tests skip and the suite passes. ``.ci/run`` sets
    ``$SEALBOOK_REQUIRE_SHARED=1``, so there the same absence fails.
    """
    if (path / probe if probe else path).exists():
        return
    message = (
        f"{what} missing at {path}: they come from ../shared beside the clone "
        f"(or $SEALBOOK_FIXTURES=.../shared/fixtures/sigstore-real)"
    )
    if os.environ.get(REQUIRE_SHARED) == "1":
        pytest.fail(f"{message}; ${REQUIRE_SHARED}=1 requires them")
    pytest.skip(message)


@pytest.fixture(scope="session")
def real_fixtures() -> Path:
    """The real production/staging Sigstore bundles in ../shared (never copied into the repo)."""
    require_shared(FIXTURES, "real Sigstore fixtures", "PROVENANCE.md")
    return FIXTURES


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any socket connect to anything but loopback (the dev instance lives there)."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> None:
        host = address[0] if isinstance(address, tuple) else address
        if self.family == socket.AF_UNIX or host in ("127.0.0.1", "::1", "localhost"):
            return real_connect(self, address)  # type: ignore[arg-type]
        raise AssertionError(f"network connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield


@pytest.fixture(autouse=True, scope="session")
def _private_verdict_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`sealbook build` and `run` cache signature verdicts per user: never in the runner's HOME."""
    old = os.environ.get("SEALBOOK_CACHE_DIR")
    os.environ["SEALBOOK_CACHE_DIR"] = str(tmp_path_factory.mktemp("verdicts"))
    yield
    if old is None:
        os.environ.pop("SEALBOOK_CACHE_DIR", None)
    else:
        os.environ["SEALBOOK_CACHE_DIR"] = old


@pytest.fixture
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail on ANY socket connect: the verifier never opens a connection."""

    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"verifier attempted a connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))  # type: ignore[arg-type]
    yield


def run_cli(
    *argv: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``sealbook`` / ``sealbook-verify`` as a user would, in a subprocess."""
    prog, *rest = argv
    module = {"sealbook": "builder._cli", "sealbook-verify": "verifier._cli"}[prog]
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", module, *rest],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


RUN_CATALOG = {
    "ops/demo.md": """---
title: Demo operations
---
# Demo operations

## Mark
```bash {#make-mark params="MARK"}
echo ran > "${MARK:?}"
```

## Streams
```bash {#streams}
cat
echo to-stderr >&2
exit 3
```

## Clean start
```bash {#clean-start}
echo "BASH_ENV=${BASH_ENV-unset} SHELLOPTS=${SHELLOPTS}"
type evil >/dev/null 2>&1 && echo evil-defined || echo no-evil
echo "argv0=$0"
```

## Nothing
```bash {#noop}
true
```

## Version
```bash {#version-echo}
echo VERSION_TEXT
```

## Query
```promql {#query}
sum(rate(http_requests_total[5m]))
```
""",
}


@pytest.fixture(scope="session")
def run_releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two chained dev-signed releases (1.0.0, 1.1.0) of a small run catalog, signed once.

    ``version-echo`` differs between them; the folder holds ``releases/``, ``dev/`` (its
    ``sealbook.dev.toml`` is the policy) and ``runbooks/``.
    """
    from builder.release import make_release
    from builder.runbook import load_catalog
    from builder.sign import SigningTarget

    root = tmp_path_factory.mktemp("run-releases")
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    for version in ("1.0.0", "1.1.0"):
        for rel, text in RUN_CATALOG.items():
            path = root / "runbooks" / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.replace("VERSION_TEXT", version), encoding="utf-8")
        make_release(load_catalog(root / "runbooks"), version, root / "releases", target)
    return root
