"""`sealbook run`: refusals (exit 125, nothing run, one `refused` record) and pinned runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from builder._cli import main as sealbook
from builder.execute import invocation
from builder.runbook import load_catalog
from tests.conftest import REPO
from verifier._cli import main as verify_main
from verifier.digests import digest
from verifier.logs import verify_logs
from verifier.manifest import BUNDLE_NAME, Manifest
from verifier.policy import TrustPolicy

SLUG = "ops/demo"


def snippet_hex(root: Path, version: str, snippet_id: str) -> str:
    manifest = Manifest.from_bytes((root / "releases" / version / "manifest.json").read_bytes())
    snippet = manifest.runbook(SLUG).snippet(snippet_id)  # type: ignore[union-attr]
    assert snippet is not None
    return snippet.digest.removeprefix("sha256:")


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private cache and no inherited policy/log; returns the test's folder."""
    monkeypatch.setenv("SEALBOOK_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("SEALBOOK_POLICY", "SEALBOOK_LOG", "MARK"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def run(root: Path, tmp: Path, version: str, snippet_id: str, *extra: str, sha: str = "") -> int:
    sha = sha or snippet_hex(root, version, snippet_id)
    return sealbook(
        [
            "run",
            f"{SLUG}@{version}",
            snippet_id,
            "--sha256",
            sha,
            "--log",
            str(tmp / "runs.jsonl"),
            *(extra or ("--releases", str(root / "releases"))),
            *(() if "--policy" in extra else ("--policy", str(root / "dev/sealbook.dev.toml"))),
        ]
    )


def records(tmp: Path) -> list[dict[str, object]]:
    path = tmp / "runs.jsonl"
    lines = path.read_bytes().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def assert_refused(rc: int, tmp: Path, reason: str, capfd: pytest.CaptureFixture[str]) -> None:
    err = capfd.readouterr().err
    assert rc == 125, err
    assert not (tmp / "mark").exists(), "the snippet ran"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "refused" in lines[0], err
    (record,) = records(tmp)
    assert record["type"] == "refused" and record["reason"] == reason, record


# -- refusals -----------------------------------------------------------------


def test_wrong_sha256_refuses(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARK", str(env / "mark"))
    rc = run(
        run_releases, env, "1.1.0", "make-mark", sha=snippet_hex(run_releases, "1.1.0", "noop")
    )
    assert_refused(rc, env, "snippet-digest-mismatch", capfd)


def test_snippet_not_in_release_refuses(
    run_releases: Path, env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rc = run(run_releases, env, "1.1.0", "no-such-snippet", sha="ab" * 32)
    assert_refused(rc, env, "snippet-unknown", capfd)


def test_reference_block_refuses(
    run_releases: Path, env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rc = run(run_releases, env, "1.1.0", "query")
    assert_refused(rc, env, "snippet-not-executable", capfd)


def test_release_whose_bundle_fails_refuses(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    releases = env / "releases"
    shutil.copytree(run_releases / "releases", releases)
    # A genuine bundle, but over another release's manifest: the digest it signed differs.
    shutil.copy(releases / "1.0.0" / BUNDLE_NAME, releases / "1.1.0" / BUNDLE_NAME)
    monkeypatch.setenv("MARK", str(env / "mark"))
    rc = run(run_releases, env, "1.1.0", "make-mark", "--releases", str(releases))
    assert_refused(rc, env, "manifest-digest-mismatch", capfd)
    assert records(env)[0]["manifest_digest"] == digest(
        (releases / "1.1.0/manifest.json").read_bytes()
    )


def test_signer_not_in_policy_refuses(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    dev = run_releases / "dev"
    policy = env / "other.toml"
    policy.write_text(
        f'[trust.roots.dev]\ntrusted_root = "{dev / "trusted_root.json"}"\ndev = true\n\n'
        '[[trust.signers]]\nidentity = "someone-else@example.com"\n'
        'issuer = "https://dev.sealbook.invalid"\nroot = "dev"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MARK", str(env / "mark"))
    rc = run(
        run_releases,
        env,
        "1.1.0",
        "make-mark",
        "--releases",
        str(run_releases / "releases"),
        "--policy",
        str(policy),
    )
    assert_refused(rc, env, "signer-not-allowed", capfd)


@pytest.mark.parametrize("value", [None, ""])
def test_declared_parameter_missing_refuses(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    value: str | None,
) -> None:
    if value is not None:
        monkeypatch.setenv("MARK", value)
    rc = run(run_releases, env, "1.1.0", "make-mark")
    assert_refused(rc, env, "param-missing", capfd)


@pytest.mark.parametrize(
    "value",
    ["x" * 4097, "caf\udce9"],  # over the limit; a Latin-1 byte in the environment (not UTF-8)
    ids=["over-long", "not-utf8"],
)
def test_declared_parameter_that_cannot_be_recorded_refuses_with_a_record(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    value: str,
) -> None:
    monkeypatch.setenv("MARK", value)
    rc = run(run_releases, env, "1.1.0", "make-mark")
    assert_refused(rc, env, "param-invalid", capfd)
    assert records(env)[0]["params"] == {}  # the value that could not be recorded is not kept
    assert verify_main(
        ["logs", str(env / "runs.jsonl"), "--releases", str(run_releases / "releases"),
         "--policy", str(run_releases / "dev/sealbook.dev.toml")]
    ) == 0  # fmt: skip


def test_log_that_cannot_be_opened_refuses_before_anything_runs(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A --log whose parent is a file: 125 with one line naming it, nothing ran (was exit 70)."""
    (env / "file").write_text("not a folder")
    monkeypatch.setenv("MARK", str(env / "mark"))
    rc = sealbook(
        ["run", f"{SLUG}@1.1.0", "make-mark", "--sha256", snippet_hex(run_releases, "1.1.0", "make-mark"),
         "--log", str(env / "file" / "runs.jsonl"), "--releases", str(run_releases / "releases"),
         "--policy", str(run_releases / "dev/sealbook.dev.toml")]
    )  # fmt: skip
    err = capfd.readouterr().err
    assert rc == 125, err
    assert not (env / "mark").exists(), "the snippet ran"
    lines = [line for line in err.strip().splitlines() if "verified: signed by" not in line]
    assert len(lines) == 1 and str(env / "file" / "runs.jsonl") in lines[0], err
    assert "cannot open the run log for appending" in lines[0] and "Traceback" not in err


def test_release_not_found_refuses(
    run_releases: Path, env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rc = run(run_releases, env, "9.9.9", "make-mark", sha="ab" * 32)
    assert_refused(rc, env, "release-unknown", capfd)
    assert records(env)[0]["manifest_digest"] is None


def test_malformed_pin_is_a_usage_error_without_a_record(
    run_releases: Path, env: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run(run_releases, env, "1.1.0", "make-mark", sha="xyz") == 2
    assert records(env) == []


# -- runs ---------------------------------------------------------------------


def test_run_records_started_and_finished_and_verifies(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARK", str(env / "mark"))
    assert run(run_releases, env, "1.0.0", "make-mark") == 0
    assert (env / "mark").read_text() == "ran\n"
    err = capfd.readouterr().err
    assert "NOT the newest release: 1.1.0 is newer" in err
    started, finished = records(env)
    assert (started["type"], finished["type"]) == ("started", "finished")
    assert started["params"] == finished["params"] == {"MARK": str(env / "mark")}
    assert finished["exit_code"] == 0 and finished["stdout_digest"] == digest(b"")
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    report = verify_logs([env / "runs.jsonl"], run_releases / "releases", policy)
    assert report.exit_code == 0, report.render("text")


def test_streams_exit_status_and_capture(run_releases: Path, env: Path) -> None:
    sha = snippet_hex(run_releases, "1.1.0", "streams")
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "builder._cli", "run", f"{SLUG}@1.1.0", "streams"),
            *("--sha256", sha, "--releases", str(run_releases / "releases")),
            *("--log", str(env / "runs.jsonl"), "--capture", str(env / "cap")),
            *("--policy", str(run_releases / "dev/sealbook.dev.toml")),
        ],
        input=b"hello from stdin\n",
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stdout == b"hello from stdin\n"
    assert proc.stderr.endswith(b"to-stderr\n")
    finished = records(env)[-1]
    assert finished["exit_code"] == 3
    assert finished["stdout_digest"] == digest(b"hello from stdin\n")
    assert finished["stderr_digest"] == digest(b"to-stderr\n")
    kept = env / "cap" / digest(b"to-stderr\n").removeprefix("sha256:")
    assert kept.read_bytes() == b"to-stderr\n" and kept.stat().st_mode & 0o077 == 0


def test_clean_bash_start(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    rc_file = env / "bashenv"
    rc_file.write_text("echo pwned\n")
    monkeypatch.setenv("BASH_ENV", str(rc_file))
    monkeypatch.setenv("ENV", str(rc_file))
    monkeypatch.setenv("SHELLOPTS", "xtrace")
    monkeypatch.setenv("BASH_FUNC_evil%%", "() { echo evil; }")
    assert run(run_releases, env, "1.1.0", "clean-start") == 0
    out = capfd.readouterr()
    assert "pwned" not in out.out and "evil-defined" not in out.out
    assert "BASH_ENV=unset" in out.out and "no-evil" in out.out
    assert "xtrace" not in out.out and "argv0=sealbook-run" in out.out


def test_dry_run_prints_the_text_and_records_nothing(
    run_releases: Path,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARK", str(env / "mark"))
    assert (
        run(
            run_releases,
            env,
            "1.1.0",
            "make-mark",
            "--releases",
            str(run_releases / "releases"),
            "--dry-run",
        )
        == 0
    )
    assert capfd.readouterr().out == 'echo ran > "${MARK:?}"\n'
    assert not (env / "mark").exists() and records(env) == []


def test_every_sample_snippet_runs_as_its_exact_signed_text() -> None:
    catalog = load_catalog(REPO / "runbooks")
    executable = [s for rb in catalog.runbooks for s in rb.snippets if s.executable]
    assert executable
    for snippet in executable:
        argv = invocation(snippet.text)
        assert argv[1:4] == ["--noprofile", "--norc", "-c"]
        assert argv[4].encode("utf-8") == snippet.text.encode("utf-8")
        assert argv[4].endswith("\n") and not argv[4].endswith("\n\n")


@pytest.fixture
def site(run_releases: Path, tmp_path: Path) -> Iterator[str]:
    """The releases served as a published site on 127.0.0.1."""
    root = tmp_path / "site"
    shutil.copytree(run_releases / "releases", root / "releases")
    (root / "assets").mkdir()
    (root / "assets/versions.js").write_text(
        'window.SEALBOOK_VERSIONS = {"head":"1.1.0","releases":["1.0.0","1.1.0"]};\n'
    )
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_from_site_over_http_runs_a_snippet(
    run_releases: Path,
    env: Path,
    site: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    no_network: None,
) -> None:
    monkeypatch.setenv("MARK", str(env / "mark"))
    assert run(run_releases, env, "1.1.0", "make-mark", "--from", site) == 0
    assert (env / "mark").exists()
    assert "the newest release known" in capfd.readouterr().err
    rc = run(run_releases, env, "7.7.7", "make-mark", "--from", site, sha="ab" * 32)
    assert rc == 125 and records(env)[-1]["reason"] == "release-unknown"


def test_from_site_folder_runs_a_snippet(
    run_releases: Path, env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MARK", str(env / "mark"))
    site = env / "site"
    shutil.copytree(run_releases / "releases", site / "releases")
    assert run(run_releases, env, "1.1.0", "make-mark", "--from", str(site)) == 0
    assert (env / "mark").exists()


def test_import_builder_run_loads_no_mkdocs_nor_sigstore() -> None:
    probe = "import sys, builder.run, builder.commands.run; print('\\n'.join(sys.modules))"
    mods = set(
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert not {m for m in mods if m.split(".")[0] in {"mkdocs", "material", "sigstore", "jinja2"}}
    assert "builder.site" not in mods


def test_warm_run_skips_sigstore_and_untrusted_cache_is_ignored(
    run_releases: Path, env: Path
) -> None:
    sha = snippet_hex(run_releases, "1.1.0", "noop")
    probe = (
        "import sys\nfrom pathlib import Path\nfrom builder.run import RunTarget, run_snippet\n"
        "from verifier.policy import TrustPolicy\n"
        f"t = RunTarget.parse('{SLUG}@1.1.0', 'noop', '{sha}')\n"
        f"p = TrustPolicy.load(Path('{run_releases}/dev/sealbook.dev.toml'))\n"
        f"o = run_snippet(t, p, releases=Path('{run_releases}/releases'), log=Path('{env}/runs.jsonl'))\n"
        "print(o.exit_code, 'sigstore' in sys.modules)\n"
    )

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )

    assert once().stdout.split() == ["0", "True"]  # cold: verified with sigstore
    assert once().stdout.split() == ["0", "False"]  # warm: cached verdict
    (env / "cache").chmod(0o755)
    untrusted = once()
    assert untrusted.stdout.split() == ["0", "True"]
    assert "not trusting it" in untrusted.stderr
