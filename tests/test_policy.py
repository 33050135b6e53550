"""Trust policy: lookup order, named roots, signers bound to a root, clear errors (exit 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.errors import TrustError
from verifier.policy import TrustPolicy
from verifier.trust_roots import PRODUCTION_ROOT, PRODUCTION_ROOT_PINNED

PROD = """
[trust.roots.production]
trusted_root = "builtin:production"

[[trust.signers]]
identity = "{identity}"
issuer = "https://token.actions.githubusercontent.com"
root = "production"
"""


def write(path: Path, identity: str = "ci") -> Path:
    path.write_text(PROD.format(identity=identity), encoding="utf-8")
    return path


def test_lookup_order_explicit_then_env_then_cwd(tmp_path: Path) -> None:
    explicit = write(tmp_path / "explicit.toml", "explicit")
    env_file = write(tmp_path / "env.toml", "env")
    write(tmp_path / "sealbook.toml", "cwd")
    env = {"SEALBOOK_POLICY": str(env_file)}
    assert TrustPolicy.load(explicit, env=env, cwd=tmp_path).signers[0].identity == "explicit"
    assert TrustPolicy.load(None, env=env, cwd=tmp_path).signers[0].identity == "env"
    assert TrustPolicy.load(None, env={}, cwd=tmp_path).signers[0].identity == "cwd"


def test_no_policy_anywhere_is_a_trust_error(tmp_path: Path) -> None:
    with pytest.raises(TrustError, match="none found") as exc:
        TrustPolicy.load(None, env={}, cwd=tmp_path)
    assert exc.value.exit_code == 4


def test_builtin_production_root_is_pinned_with_a_date(tmp_path: Path) -> None:
    policy = TrustPolicy.load(write(tmp_path / "p.toml"), env={})
    root = policy.roots["production"]
    assert root.path == PRODUCTION_ROOT and root.pinned == PRODUCTION_ROOT_PINNED and not root.dev
    assert f"pinned {PRODUCTION_ROOT_PINNED}" in policy.describe()["root production"]


def test_relative_root_paths_resolve_against_the_policy_folder(tmp_path: Path) -> None:
    (tmp_path / "roots").mkdir()
    (tmp_path / "roots" / "dev.json").write_bytes(PRODUCTION_ROOT.read_bytes())
    (tmp_path / "p.toml").write_text(
        '[trust.roots.dev]\ntrusted_root = "roots/dev.json"\ndev = true\n'
        '[[trust.signers]]\nidentity = "a"\nissuer = "b"\nroot = "dev"\n'
    )
    policy = TrustPolicy.load(tmp_path / "p.toml", env={})
    assert policy.dev and policy.roots["dev"].path == tmp_path / "roots" / "dev.json"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not [toml", "not valid TOML"),
        ("[site]\nurl = 'https://x'\n", "no [trust] table"),
        ("[trust]\n", "no trusted roots"),
        ('[trust.roots.p]\ntrusted_root = "builtin:production"\n', "no allowed signers"),
        (
            '[trust.roots.p]\ntrusted_root = "builtin:production"\n[[trust.signers]]\nidentity = "a"\nissuer = "b"\nroot = "q"\n',
            "unknown root 'q'",
        ),
        (
            '[trust.roots.p]\ntrusted_root = "missing.json"\n[[trust.signers]]\nidentity = "a"\nissuer = "b"\nroot = "p"\n',
            "cannot be read",
        ),
        (
            '[trust.roots.p]\ntrusted_root = "builtin:production"\ndev = "yes"\n',
            "dev must be true or false",
        ),
        (
            '[trust.roots.p]\ntrusted_root = "builtin:production"\n[[trust.signers]]\nidentity = "a"\nroot = "p"\n',
            "needs identity, issuer and root",
        ),
    ],
    ids=[
        "syntax",
        "no-trust",
        "no-roots",
        "no-signers",
        "unknown-root",
        "missing-root-file",
        "dev-not-bool",
        "signer-incomplete",
    ],
)
def test_bad_policies_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(TrustError) as exc:
        TrustPolicy.load(path, env={})
    assert problem in exc.value.diagnostics() and str(path) in exc.value.diagnostics()
    assert "\n" not in exc.value.diagnostics()


def test_signers_are_bound_to_their_root(tmp_path: Path) -> None:
    (tmp_path / "dev.json").write_bytes(PRODUCTION_ROOT.read_bytes())
    (tmp_path / "p.toml").write_text(
        '[trust.roots.production]\ntrusted_root = "builtin:production"\n'
        '[trust.roots.dev]\ntrusted_root = "dev.json"\ndev = true\n'
        '[[trust.signers]]\nidentity = "ci"\nissuer = "gha"\nroot = "production"\n'
        '[[trust.signers]]\nidentity = "dev@sealbook.invalid"\nissuer = "dev"\nroot = "dev"\n'
    )
    policy = TrustPolicy.load(tmp_path / "p.toml", env={})
    assert [s.identity for s in policy.signers_for("production")] == ["ci"]
    assert [s.identity for s in policy.signers_for("dev")] == ["dev@sealbook.invalid"]


def test_fingerprint_covers_policy_and_roots(tmp_path: Path) -> None:
    a = TrustPolicy.load(write(tmp_path / "a.toml", "one"), env={})
    b = TrustPolicy.load(write(tmp_path / "b.toml", "two"), env={})
    assert a.fingerprint != b.fingerprint and a.fingerprint.startswith("sha256:")
