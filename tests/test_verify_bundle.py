"""`sealbook-verify bundle` on real production and staging Sigstore bundles, offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from verifier._cli import main

WHL_IDENTITY = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2"
)
GHA = "https://token.actions.githubusercontent.com"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)


def verify(*argv: str) -> int:
    return main(["bundle", *argv])


def test_production_bundle_verifies_with_empty_home_left_empty(
    real_fixtures: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    f = real_fixtures
    proc = run_cli(
        "sealbook-verify",
        "bundle",
        str(f / "bundle_v3_github.whl"),
        "--bundle",
        str(f / "bundle_v3_github.whl.sigstore"),
        "--cert-identity",
        WHL_IDENTITY,
        "--cert-oidc-issuer",
        GHA,
        env={
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local"),
        },
    )
    assert proc.returncode == 0, proc.stderr
    assert "verified" in proc.stdout and "pinned 2026-11-28" in proc.stdout
    assert list(home.iterdir()) == []


def test_conformance_happy_path_v03(real_fixtures: Path, no_sockets: None) -> None:
    c = real_fixtures / "conformance"
    assert (
        verify(
            str(c / "a.txt"),
            "--bundle",
            str(c / "happy-path-v0.3/bundle.sigstore.json"),
            "--cert-identity",
            BEACON,
            "--cert-oidc-issuer",
            GHA,
        )
        == 0
    )


def test_rekor_v2_bundle_with_its_own_root(
    real_fixtures: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    c = real_fixtures / "conformance"
    rc = verify(
        str(c / "a.txt"),
        "--bundle",
        str(c / "rekor2-happy-path/bundle.sigstore.json"),
        "--trusted-root",
        str(c / "rekor2-happy-path/trusted_root.json"),
        "--cert-identity",
        BEACON,
        "--cert-oidc-issuer",
        GHA,
        "--format",
        "json",
    )
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["results"][0]["facts"]["signed_at"].startswith("2025-")


def test_staging_bundle_fails_against_production_root(
    real_fixtures: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    f = real_fixtures
    rc = verify(
        str(f / "bundle_v3.txt"),
        "--bundle",
        str(f / "bundle_v3.txt.sigstore"),
        "--cert-identity",
        "william@yossarian.net",
        "--cert-oidc-issuer",
        "https://github.com/login/oauth",
    )
    assert rc == 1
    assert "signature-invalid" in capsys.readouterr().out


def test_flipped_byte_fails(
    real_fixtures: Path, tmp_path: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    data = bytearray((real_fixtures / "bundle_v3_github.whl").read_bytes())
    data[100] ^= 0x01
    tampered = tmp_path / "tampered.whl"
    tampered.write_bytes(bytes(data))
    rc = verify(
        str(tampered),
        "--bundle",
        str(real_fixtures / "bundle_v3_github.whl.sigstore"),
        "--cert-identity",
        WHL_IDENTITY,
        "--cert-oidc-issuer",
        GHA,
    )
    assert rc == 1
    assert "signature-invalid" in capsys.readouterr().out


def test_conformance_digest_mismatch_fails(real_fixtures: Path, no_sockets: None) -> None:
    c = real_fixtures / "conformance"
    assert (
        verify(
            str(c / "a.txt"),
            "--bundle",
            str(c / "message-digest-mismatch_fail/bundle.sigstore.json"),
            "--cert-identity",
            BEACON,
            "--cert-oidc-issuer",
            GHA,
        )
        == 1
    )


@pytest.mark.parametrize(
    ("identity", "issuer"),
    [
        ("https://github.com/evil/repo/.github/workflows/release.yml@refs/heads/main", GHA),
        (WHL_IDENTITY, "https://accounts.google.com"),
    ],
    ids=["wrong-identity", "wrong-issuer"],
)
def test_wrong_identity_fails(
    real_fixtures: Path,
    identity: str,
    issuer: str,
    no_sockets: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    f = real_fixtures
    rc = verify(
        str(f / "bundle_v3_github.whl"),
        "--bundle",
        str(f / "bundle_v3_github.whl.sigstore"),
        "--cert-identity",
        identity,
        "--cert-oidc-issuer",
        issuer,
    )
    assert rc == 1
    assert "signer-not-allowed" in capsys.readouterr().out


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{}",
        b"not json",
        b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}',
        b"\xff\xfe",
    ],
)
def test_malformed_bundle_exits_3_without_traceback(
    real_fixtures: Path, tmp_path: Path, content: bytes
) -> None:
    bad = tmp_path / "bad.sigstore.json"
    bad.write_bytes(content)
    proc = run_cli(
        "sealbook-verify",
        "bundle",
        str(real_fixtures / "bundle_v3.txt"),
        "--bundle",
        str(bad),
        "--cert-identity",
        "x",
        "--cert-oidc-issuer",
        "y",
    )
    assert proc.returncode == 3
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and str(bad) in proc.stderr


def test_missing_file_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        verify(
            str(tmp_path / "nope"),
            "--bundle",
            str(tmp_path / "nope.json"),
            "--cert-identity",
            "x",
            "--cert-oidc-issuer",
            "y",
        )
        == 3
    )
    assert "missing" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        verify("only-a-file")
    assert exc.value.code == 2
