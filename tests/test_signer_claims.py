"""Signer rules on claims: one rule for every tag a workflow releases from, nothing wider.

Releases are signed through sigstore's real signing path by the dev instance, with dev
tokens carrying the claims GitHub Actions and GitLab CI put in a job's token; the dev CA
certifies them with the extensions real Fulcio derives. Verification is sigstore's real
`Verifier`; nothing is mocked. The real production bundle checks the same rules against a
certificate real Fulcio issued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.devinstance import DevInstance
from builder.devinstance.ciprovider import github_actions_claims, gitlab_ci_claims
from builder.devinstance.oidc import ci_token
from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget, signer_for
from tests.conftest import run_cli
from verifier.errors import TrustError, VerificationError
from verifier.policy import TrustPolicy
from verifier.signature import parse_bundle, verify_signature

GITHUB = "https://token.actions.githubusercontent.com"
GITLAB = "https://gitlab.com"
REPO = "https://github.com/acme/runbooks"
WORKFLOW = f"{REPO}/.github/workflows/release.yml"
TAG_RULE = {
    "source_repository_uri": REPO,
    "source_repository_ref": "refs/tags/runbooks-*",
    "build_signer_uri": f"{WORKFLOW}@refs/tags/runbooks-*",
    "build_trigger": "push",
}
RUNBOOK = "---\ntitle: Disk\n---\n# Disk\n\n```bash {#df}\ndf -h\n```\n"


def policy_text(
    root: Path, issuer: str, claims: dict[str, str], identity: str | None = None
) -> str:
    """A policy trusting the dev root ``root`` for one signer rule."""
    lines = [
        "[trust.roots.dev]",
        f"trusted_root = {json.dumps(str(root))}",
        "dev = true",
        "[[trust.signers]]",
        f"issuer = {json.dumps(issuer)}",
        'root = "dev"',
    ]
    if identity is not None:
        lines.append(f"identity = {json.dumps(identity)}")
    if claims:
        lines.append("[trust.signers.claims]")
        lines += [f"{name} = {json.dumps(value)}" for name, value in claims.items()]
    return "\n".join(lines) + "\n"


def write_policy(path: Path, *args: object, **kwargs: object) -> Path:
    path.write_text(policy_text(*args, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return path


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevInstance]:
    with DevInstance(tmp_path_factory.mktemp("claims") / "dev") as inst:
        yield inst


def signed(dev: DevInstance, claims: dict[str, object], data: bytes = b"manifest") -> bytes:
    """A bundle over ``data`` signed with a CI token carrying ``claims``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SIGSTORE_ID_TOKEN", ci_token(claims))
        with signer_for(SigningTarget(instance="dev", dev_state=dev.state_dir)) as session:
            return session.sign(data)


def check(dev: DevInstance, bundle: bytes, policy: Path, data: bytes = b"manifest") -> str:
    """``verified`` or the reason code the verifier gives."""
    try:
        verify_signature(data, parse_bundle(bundle, "b"), TrustPolicy.load(policy, env={}), "b")
    except VerificationError as exc:
        return exc.reason
    return "verified"


def test_three_tags_of_one_workflow_verify_under_one_claims_rule(
    dev: DevInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runbooks, releases = tmp_path / "runbooks", tmp_path / "releases"
    (runbooks / "hosts").mkdir(parents=True)
    target = SigningTarget(instance="dev", dev_state=dev.state_dir)
    for n, version in enumerate(("1.0", "1.1", "1.2")):
        (runbooks / "hosts" / "disk.md").write_text(RUNBOOK + f"\nrevision {n}\n")
        tag = f"refs/tags/runbooks-{version}"
        monkeypatch.setenv(
            "SIGSTORE_ID_TOKEN", ci_token(github_actions_claims("acme/runbooks", tag, run_id=n))
        )
        make_release(load_catalog(runbooks), version, releases, target)
    policy = write_policy(tmp_path / "p.toml", dev.trusted_root_path, GITHUB, TAG_RULE)
    result = run_cli(
        "sealbook-verify", "releases", str(releases), "--policy", str(policy), "--format", "json"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    identities = {
        r["facts"]["identity"] for r in json.loads(result.stdout)["results"] if r.get("facts")
    }
    assert identities == {f"{WORKFLOW}@refs/tags/runbooks-{v}" for v in ("1.0", "1.1", "1.2")}


@pytest.mark.parametrize(
    "claims",
    [
        github_actions_claims("mallory/runbooks", "refs/tags/runbooks-1.0"),
        github_actions_claims("acme/runbooks-fork", "refs/tags/runbooks-1.0"),
        github_actions_claims("acme/runbooks", "refs/heads/main"),
        github_actions_claims("acme/runbooks", "refs/tags/v1.0"),
        github_actions_claims(
            "acme/runbooks", "refs/tags/runbooks-1.0", event_name="workflow_dispatch"
        ),
        github_actions_claims(
            "acme/runbooks", "refs/tags/runbooks-1.0", workflow=".github/workflows/other.yml"
        ),
        gitlab_ci_claims("acme/runbooks", "runbooks-1.0"),
    ],
    ids=[
        "other-repo",
        "fork-name",
        "branch",
        "other-tag-pattern",
        "other-trigger",
        "other-workflow",
        "gitlab",
    ],
)
def test_the_same_workflow_elsewhere_is_signer_not_allowed(
    dev: DevInstance, tmp_path: Path, claims: dict[str, object]
) -> None:
    policy = write_policy(tmp_path / "p.toml", dev.trusted_root_path, GITHUB, TAG_RULE)
    assert (
        check(
            dev, signed(dev, github_actions_claims("acme/runbooks", "refs/tags/runbooks-9")), policy
        )
        == "verified"
    )
    assert check(dev, signed(dev, claims), policy) == "signer-not-allowed"


def test_gitlab_rule_on_project_and_tag_glob(dev: DevInstance, tmp_path: Path) -> None:
    rule = {
        "source_repository_uri": "https://gitlab.com/acme/runbooks",
        "source_repository_ref": "refs/tags/runbooks-*",
        "build_signer_uri": "https://gitlab.com/acme/runbooks//.gitlab-ci.yml@refs/tags/runbooks-*",
        "build_trigger": "push",
    }
    policy = write_policy(tmp_path / "p.toml", dev.trusted_root_path, GITLAB, rule)
    good = signed(dev, gitlab_ci_claims("acme/runbooks", "runbooks-2.0"))
    assert check(dev, good, policy) == "verified"
    branch = signed(dev, gitlab_ci_claims("acme/runbooks", "main", ref_type="branch"))
    assert check(dev, branch, policy) == "signer-not-allowed"
    scheduled = signed(
        dev, gitlab_ci_claims("acme/runbooks", "runbooks-2.0", pipeline_source="schedule")
    )
    assert check(dev, scheduled, policy) == "signer-not-allowed"


def test_identity_and_claims_together_must_both_hold(dev: DevInstance, tmp_path: Path) -> None:
    bundle = signed(dev, github_actions_claims("acme/runbooks", "refs/tags/runbooks-3"))
    exact = f"{WORKFLOW}@refs/tags/runbooks-3"
    both = write_policy(
        tmp_path / "a.toml",
        dev.trusted_root_path,
        GITHUB,
        {"build_trigger": "push"},
        identity=exact,
    )
    assert check(dev, bundle, both) == "verified"
    wrong = write_policy(
        tmp_path / "b.toml",
        dev.trusted_root_path,
        GITHUB,
        {"build_trigger": "schedule"},
        identity=exact,
    )
    assert check(dev, bundle, wrong) == "signer-not-allowed"


def test_signer_not_allowed_names_the_certificates_repository_and_ref(
    dev: DevInstance, tmp_path: Path
) -> None:
    policy = write_policy(tmp_path / "p.toml", dev.trusted_root_path, GITHUB, TAG_RULE)
    bundle = signed(dev, github_actions_claims("mallory/runbooks", "refs/tags/runbooks-1"))
    with pytest.raises(VerificationError) as exc:
        verify_signature(
            b"manifest", parse_bundle(bundle, "b"), TrustPolicy.load(policy, env={}), "b"
        )
    line = exc.value.diagnostics()
    assert "source_repository_uri https://github.com/mallory/runbooks" in line
    assert "source_repository_ref refs/tags/runbooks-1" in line and "\n" not in line


OVER_BROAD = {
    "no-repository": {"source_repository_ref": "refs/tags/runbooks-*"},
    "only-workflow": {"build_signer_uri": f"{WORKFLOW}@refs/tags/runbooks-*"},
    "repository-glob": {"source_repository_uri": "https://github.com/*"},
    "repository-glob-suffix": {"source_repository_uri": "https://github.com/acme/*"},
    "owner-glob": {"source_repository_uri": REPO, "source_repository_owner_uri": "*"},
    "workflow-path-glob": {
        "source_repository_uri": REPO,
        "build_signer_uri": "https://github.com/*/.github/workflows/release.yml@refs/tags/*",
    },
    "ref-glob-everything": {"source_repository_uri": REPO, "source_repository_ref": "*"},
    "ref-glob-refs": {"source_repository_uri": REPO, "source_repository_ref": "refs/*"},
    "trigger-glob": {"source_repository_uri": REPO, "build_trigger": "*"},
}


@pytest.mark.parametrize("claims", OVER_BROAD.values(), ids=OVER_BROAD.keys())
def test_over_broad_rules_are_refused(tmp_path: Path, claims: dict[str, str]) -> None:
    policy = write_policy(tmp_path / "p.toml", tmp_path / "root.json", GITHUB, claims)
    (tmp_path / "root.json").write_text("{}")
    with pytest.raises(TrustError) as exc:
        TrustPolicy.load(policy, env={})
    assert exc.value.exit_code == 4
    line = exc.value.diagnostics()
    assert str(policy) in line and "trust.signers[0]" in line and "\n" not in line


def test_over_broad_rule_exits_4_with_one_line(dev: DevInstance, tmp_path: Path) -> None:
    policy = write_policy(
        tmp_path / "p.toml", dev.trusted_root_path, GITHUB, {"source_repository_ref": "refs/tags/*"}
    )
    (tmp_path / "releases").mkdir()
    result = run_cli(
        "sealbook-verify", "releases", str(tmp_path / "releases"), "--policy", str(policy)
    )
    assert result.returncode == 4, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "pins no repository" in line and "source_repository_uri" in line


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ({"claims": {"repo": "x"}}, "unknown claim 'repo'"),
        ({"claims": {}}, "claims must be a non-empty table"),
        ({"claims": {"source_repository_uri": 7}}, "must be a non-empty string"),
        ({}, "or claims instead of identity"),
        ({"claims": {"source_repository_uri": REPO}, "ref": "x"}, "unknown keys ['ref']"),
    ],
    ids=["unknown-claim", "empty-claims", "not-a-string", "neither", "unknown-key"],
)
def test_malformed_claims_rules_name_the_problem(
    tmp_path: Path, spec: dict[str, object], problem: str
) -> None:
    from verifier.policy import _parse_signer

    (tmp_path / "root.json").write_text("{}")
    roots = {"dev": object()}
    with pytest.raises(TrustError) as exc:
        _parse_signer(
            {"issuer": GITHUB, "root": "dev", **spec}, roots, "p.toml", "trust.signers[0]"
        )  # type: ignore[arg-type]
    assert problem in exc.value.diagnostics() and exc.value.exit_code == 4


REAL_BUNDLE = "bundle_v3_github.whl.sigstore"
REAL_ARTIFACT = "bundle_v3_github.whl"


def real_policy(path: Path, repository: str) -> Path:
    path.write_text(
        '[trust.roots.production]\ntrusted_root = "builtin:production"\n'
        f'[[trust.signers]]\nissuer = {json.dumps(GITHUB)}\nroot = "production"\n'
        "[trust.signers.claims]\n"
        f"source_repository_uri = {json.dumps(repository)}\n"
        'source_repository_ref = "refs/tags/v*"\n'
        f"build_signer_uri = {json.dumps(repository + '/.github/workflows/release.yml@refs/tags/v*')}\n",
        encoding="utf-8",
    )
    return path


def test_real_production_bundle_under_a_claims_rule(
    real_fixtures: Path, tmp_path: Path, no_sockets: None
) -> None:
    data = (real_fixtures / REAL_ARTIFACT).read_bytes()
    bundle = parse_bundle((real_fixtures / REAL_BUNDLE).read_bytes(), REAL_BUNDLE)
    ours = TrustPolicy.load(
        real_policy(tmp_path / "a.toml", "https://github.com/trailofbits/rfc8785.py"), env={}
    )
    facts = verify_signature(data, bundle, ours, REAL_ARTIFACT)
    assert facts.identity.endswith("/release.yml@refs/tags/v0.1.2") and not facts.dev
    other = TrustPolicy.load(
        real_policy(tmp_path / "b.toml", "https://github.com/trailofbits/rfc8785"), env={}
    )
    with pytest.raises(VerificationError) as exc:
        verify_signature(data, bundle, other, REAL_ARTIFACT)
    assert exc.value.reason == "signer-not-allowed"


def test_dev_ci_certificate_carries_the_extensions_real_fulcio_writes(
    dev: DevInstance, real_fixtures: Path
) -> None:
    def fulcio_extensions(bundle_json: bytes) -> dict[str, bool]:
        cert = parse_bundle(bundle_json, "b").signing_certificate
        return {
            e.oid.dotted_string: e.value.value[:1] == b"\x0c"  # type: ignore[attr-defined]
            for e in cert.extensions
            if e.oid.dotted_string.startswith("1.3.6.1.4.1.57264.1.")
        }

    real = fulcio_extensions((real_fixtures / REAL_BUNDLE).read_bytes())
    ours = fulcio_extensions(
        signed(dev, github_actions_claims("trailofbits/rfc8785.py", "refs/tags/v0.1.2"))
    )
    # Same OIDs, each with the same encoding (DER UTF8String or the legacy raw bytes).
    assert ours == real


def test_cli_prints_a_ci_token_for_a_github_or_gitlab_job(tmp_path: Path) -> None:
    import base64

    for flag, spec, issuer in (
        ("--github", "acme/runbooks@refs/tags/runbooks-1.0", GITHUB),
        ("--gitlab", "acme/runbooks@refs/heads/main", GITLAB),
    ):
        out = run_cli(
            "sealbook",
            "dev-instance",
            "--state",
            str(tmp_path / "dev"),
            "--print-token",
            flag,
            spec,
        )
        assert out.returncode == 0, out.stderr
        payload = out.stdout.strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["iss"] == issuer and claims["aud"] == "sigstore"
    bad = run_cli("sealbook", "dev-instance", "--print-token", "--github", "acme")
    assert bad.returncode == 2 and "not REPOSITORY@REF" in bad.stderr
