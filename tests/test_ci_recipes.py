"""The CI recipes in ci/ run end to end here, with the CI environment simulated.

Each recipe's own shell steps (all but installing sealbook, which is already installed) run
in a job folder holding only the runbooks and ``sealbook.toml``, with the variables the CI
sets: GitHub Actions' token request URL and token (served on 127.0.0.1 by a stand-in for
GitHub's token service) or GitLab's ``SIGSTORE_ID_TOKEN``. Signing goes to the dev instance
through ``$SEALBOOK_TRUST_CONFIG`` (the private-deployment path, as production would);
publishing is a copy into a folder served on 127.0.0.1. Job 1 makes the genesis release and
publishes, job 2 continues from the published site, and the published chain verifies. A job
without its OIDC token fails with the detector's own message and the fix.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from builder.devinstance import DevInstance
from builder.devinstance.ciprovider import github_actions_claims, gitlab_ci_claims
from builder.devinstance.oidc import ci_token
from tests.conftest import REPO, run_cli
from tests.test_signer_claims import GITHUB, GITLAB, policy_text

RUNBOOK = "---\ntitle: Disk\n---\n# Disk\n\n```bash {#df}\ndf -h\n```\n"
BIN = str(Path(sys.executable).parent)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _TokenService(http.server.BaseHTTPRequestHandler):
    """GitHub's OIDC token endpoint, as ACTIONS_ID_TOKEN_REQUEST_URL names it."""

    token = ""

    def do_GET(self) -> None:
        if self.headers.get("Authorization") != "bearer request-token":
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps({"value": type(self).token}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(handler: Any) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture
def ci(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A dev instance, the published site's folder served over HTTP, GitHub's token service."""
    pages = tmp_path / "pages"
    pages.mkdir()
    site_server, site_url = serve(functools.partial(_Quiet, directory=str(pages)))
    token_server, token_url = serve(_TokenService)
    with DevInstance(tmp_path / "dev") as dev:
        yield {
            "dev": dev, "pages": pages, "site_url": site_url, "token_url": token_url,
            "tmp": tmp_path,
        }  # fmt: skip
    for server in (site_server, token_server):
        server.shutdown()
        server.server_close()


def job_folder(ci: dict[str, Any], name: str, issuer: str, claims: dict[str, str]) -> Path:
    """A fresh checkout: the runbooks and the policy, nothing else."""
    job = ci["tmp"] / name
    (job / "runbooks" / "hosts").mkdir(parents=True)
    (job / "runbooks" / "hosts" / "disk.md").write_text(RUNBOOK + f"\n{name}\n")
    (job / "sealbook.toml").write_text(policy_text(ci["dev"].trusted_root_path, issuer, claims))
    return job


def run_steps(
    job: Path, scripts: list[str], env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """Run a recipe's shell steps in order, as the CI would (bash, -e, pipefail)."""
    inherited = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GITHUB_", "GITLAB_", "CI", "ACTIONS_")) and k != "SIGSTORE_ID_TOKEN"
    }
    full_env = {**inherited, "PATH": f"{BIN}:{os.environ['PATH']}", **env}
    for script in scripts:
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=job, env=full_env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if result.returncode != 0:
            return result
    return result


def publish(built: Path, pages: Path) -> None:
    """Replace the served site with the job's output (following the build's symlink)."""
    shutil.rmtree(pages)
    shutil.copytree(built.resolve(), pages)


def github_steps() -> list[str]:
    recipe = yaml.safe_load((REPO / "ci/github/release.yml").read_text(encoding="utf-8"))
    steps = recipe["jobs"]["release"]["steps"]
    assert any(s.get("name") == "install sealbook" for s in steps)
    assert recipe["jobs"]["release"]["permissions"]["id-token"] == "write"
    return [s["run"] for s in steps if "run" in s and s.get("name") != "install sealbook"]


GITHUB_RULE = {
    "source_repository_uri": "https://github.com/acme/runbooks",
    "source_repository_ref": "refs/tags/runbooks-*",
    "build_signer_uri": "https://github.com/acme/runbooks/.github/workflows/release.yml@refs/tags/runbooks-*",
    "build_trigger": "push",
}


def github_env(
    ci: dict[str, Any], tag: str, *, genesis: bool, permission: bool = True
) -> dict[str, str]:
    _TokenService.token = ci_token(github_actions_claims("acme/runbooks", f"refs/tags/{tag}"))
    env = {
        "GITHUB_ACTIONS": "true", "GITHUB_REF_NAME": tag, "GITHUB_REF": f"refs/tags/{tag}",
        "GITHUB_REPOSITORY": "acme/runbooks", "SITE_URL": ci["site_url"],
        "SEALBOOK_GENESIS": "true" if genesis else "",
        "SEALBOOK_TRUST_CONFIG": str(ci["dev"].trust_config_path),
    }  # fmt: skip
    if permission:  # what `permissions: id-token: write` gives the job
        env["ACTIONS_ID_TOKEN_REQUEST_URL"] = ci["token_url"]
        env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "request-token"
    return env


def test_github_recipe_releases_publishes_and_continues(ci: dict[str, Any]) -> None:
    steps = github_steps()
    for n, (tag, genesis) in enumerate((("runbooks-1.0", True), ("runbooks-1.1", False))):
        job = job_folder(ci, f"gh-job{n}", GITHUB, GITHUB_RULE)
        result = run_steps(job, steps, github_env(ci, tag, genesis=genesis))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        publish(job / "site", ci["pages"])
    verify = run_cli(
        "sealbook-verify", "releases", str(ci["pages"] / "releases"), "--policy",
        str(job / "sealbook.toml"), "--format", "json",
    )  # fmt: skip
    assert verify.returncode == 0, verify.stdout
    facts = {r["item"]: r["facts"]["identity"] for r in json.loads(verify.stdout)["results"]}
    assert facts == {
        v: f"https://github.com/acme/runbooks/.github/workflows/release.yml@refs/tags/runbooks-{v}"
        for v in ("1.0", "1.1")
    }


def test_github_job_without_id_token_permission_fails_with_the_detectors_message(
    ci: dict[str, Any],
) -> None:
    job = job_folder(ci, "gh-noperm", GITHUB, GITHUB_RULE)
    result = run_steps(
        job, github_steps(), github_env(ci, "runbooks-1.0", genesis=True, permission=False)
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "GitHub: missing or insufficient OIDC token permissions" in line
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in line and "permissions: id-token: write" in line
    assert not (job / "releases" / "1.0").exists()


def test_github_token_service_unreachable_names_it(ci: dict[str, Any]) -> None:
    job = job_folder(ci, "gh-down", GITHUB, GITHUB_RULE)
    env = github_env(ci, "runbooks-1.0", genesis=True)
    env["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "wrong"  # the service refuses it
    result = run_steps(job, github_steps(), env)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "GitHub: OIDC token request failed (code=403" in line and "id-token: write" in line


def gitlab_script() -> list[str]:
    recipe = yaml.safe_load((REPO / "ci/gitlab/.gitlab-ci.yml").read_text(encoding="utf-8"))
    job = recipe["pages"]
    assert job["id_tokens"] == {"SIGSTORE_ID_TOKEN": {"aud": "sigstore"}}
    assert job["artifacts"]["paths"] == ["public"]
    script: list[str] = job["script"]
    assert "pip install" in script[0]
    return script[1:]


GITLAB_RULE = {
    "source_repository_uri": "https://gitlab.com/acme/runbooks",
    "source_repository_ref": "refs/tags/runbooks-*",
    "build_trigger": "push",
}


def gitlab_env(
    ci: dict[str, Any], tag: str, *, genesis: bool, token: bool = True
) -> dict[str, str]:
    env = {
        "GITLAB_CI": "true", "CI_COMMIT_TAG": tag, "SITE_URL": ci["site_url"],
        "SEALBOOK_GENESIS": "true" if genesis else "",
        "SEALBOOK_TRUST_CONFIG": str(ci["dev"].trust_config_path),
    }  # fmt: skip
    if token:  # what `id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore` gives the job
        env["SIGSTORE_ID_TOKEN"] = ci_token(gitlab_ci_claims("acme/runbooks", tag))
    return env


def test_gitlab_recipe_releases_publishes_and_continues(ci: dict[str, Any]) -> None:
    script = gitlab_script()
    for n, (tag, genesis) in enumerate((("runbooks-1.0", True), ("runbooks-1.1", False))):
        job = job_folder(ci, f"gl-job{n}", GITLAB, GITLAB_RULE)
        result = run_steps(job, ["\n".join(script)], gitlab_env(ci, tag, genesis=genesis))
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        publish(job / "public", ci["pages"])
    verify = run_cli(
        "sealbook-verify", "site", str(ci["pages"]), "--policy", str(job / "sealbook.toml")
    )
    assert verify.returncode == 0, verify.stdout[-2000:]


def test_gitlab_job_without_id_tokens_fails_with_the_detectors_message(ci: dict[str, Any]) -> None:
    job = job_folder(ci, "gl-notoken", GITLAB, GITLAB_RULE)
    result = run_steps(
        job, ["\n".join(gitlab_script())], gitlab_env(ci, "runbooks-1.0", genesis=True, token=False)
    )
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "GitLab: Environment variable SIGSTORE_ID_TOKEN not found" in line
    assert "id_tokens: SIGSTORE_ID_TOKEN: aud: sigstore" in line


@pytest.fixture
def not_on_gcp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """id's GCP detector asks the metadata server when the DMI product name says Google."""
    from id._internal.oidc import ambient

    monkeypatch.setattr(ambient, "_GCP_PRODUCT_NAME_FILE", str(tmp_path / "no-dmi"))


def test_no_ci_and_no_token_names_every_way_to_get_one(tmp_path: Path, not_on_gcp: None) -> None:
    from builder.sign import SigningError, SigningTarget, _token

    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("GITHUB_", "GITLAB_", "CIRCLECI", "BUILDKITE", "GOOGLE_")) or name in (
                "SIGSTORE_ID_TOKEN", "SEALBOOK_ID_TOKEN_FILE", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            ):  # fmt: skip
                mp.delenv(name)
        with pytest.raises(SigningError) as exc:
            _token(SigningTarget(), None)
    line = exc.value.diagnostics()
    assert "CircleCI" in line and "id-token: write" in line and "id_tokens" in line


def test_circleci_without_its_cli_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, not_on_gcp: None
) -> None:
    from builder.sign import SigningError, ambient_credential

    for name in ("GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "GOOGLE_SERVICE_ACCOUNT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CIRCLECI", "true")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `circleci` here
    with pytest.raises(SigningError) as exc:
        ambient_credential()
    assert "CircleCI: could not find `circleci`" in exc.value.diagnostics()
