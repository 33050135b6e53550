"""A policy can pin the run log (issue 16, deliver 4): --log and $SEALBOOK_LOG cannot divert it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from builder.run import RunOptions, RunTarget, run_snippet
from verifier.errors import RefusedError, TrustError
from verifier.manifest import Manifest
from verifier.policy import TrustPolicy

SLUG = "ops/demo"


def _policy(root: Path, folder: Path, run_table: str) -> Path:
    dev = (root / "dev/sealbook.dev.toml").read_text(encoding="utf-8")
    root_file = (root / "dev/trusted_root.json").resolve()
    text = dev.replace('"trusted_root.json"', json.dumps(str(root_file))) + run_table
    path = folder / "sealbook.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _target(root: Path) -> RunTarget:
    raw = (root / "releases/1.1.0/manifest.json").read_bytes()
    snippet = Manifest.from_bytes(raw).runbook(SLUG).snippet("noop")  # type: ignore[union-attr]
    assert snippet is not None
    return RunTarget.parse(f"{SLUG}@1.1.0", "noop", snippet.digest)


def _options(root: Path, log: Path | None, env: dict[str, str] | None = None) -> RunOptions:
    return RunOptions(
        releases=root / "releases",
        log=log,
        cache=None,
        say=lambda _line: None,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )


def test_pinned_log_is_used_and_cannot_be_diverted(run_releases: Path, tmp_path: Path) -> None:
    policy = TrustPolicy.load(_policy(run_releases, tmp_path, '\n[run]\nlog = "pinned.jsonl"\n'))
    pinned = tmp_path / "pinned.jsonl"
    assert policy.run_log == pinned
    run_snippet(_target(run_releases), policy, _options(run_releases, None))
    run_snippet(_target(run_releases), policy, _options(run_releases, pinned))  # the same file
    assert len(pinned.read_bytes().splitlines()) == 4
    for log, env in ((tmp_path / "elsewhere.jsonl", None), (None, {"SEALBOOK_LOG": "/tmp/x"})):
        with pytest.raises(RefusedError) as exc:
            run_snippet(_target(run_releases), policy, _options(run_releases, log, env))
        assert exc.value.reason == "log-diverted"
        assert "pins the run log to" in exc.value.diagnostics()
    assert not (tmp_path / "elsewhere.jsonl").exists()
    refusals = [json.loads(line) for line in pinned.read_bytes().splitlines()][4:]
    assert [(r["type"], r["reason"]) for r in refusals] == [("refused", "log-diverted")] * 2


def test_diverted_log_is_one_line_and_exit_125(run_releases: Path, tmp_path: Path) -> None:
    policy = _policy(run_releases, tmp_path, '\n[run]\nlog = "pinned.jsonl"\n')
    target = _target(run_releases)
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "builder._cli", "run", f"{SLUG}@1.1.0", "noop"),
            *("--sha256", target.sha256.removeprefix("sha256:")),
            *("--releases", str(run_releases / "releases"), "--policy", str(policy)),
            *("--log", str(tmp_path / "mine.jsonl")),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 125, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "refused" in line]
    assert len(lines) == 1 and "pinned.jsonl" in lines[0] and "drop --log" in lines[0]


@pytest.mark.parametrize("table", ['\n[run]\nlog = ""\n', "\n[run]\nlog = 5\n"])
def test_a_bad_pinned_log_is_a_policy_error(run_releases: Path, tmp_path: Path, table: str) -> None:
    with pytest.raises(TrustError, match=r"run\.log"):
        TrustPolicy.load(_policy(run_releases, tmp_path, table))
