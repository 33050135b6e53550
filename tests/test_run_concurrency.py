"""8 processes x 200 runs into one log: one valid chain, every started/finished pair present."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from verifier.logs import verify_logs
from verifier.manifest import Manifest
from verifier.policy import TrustPolicy

PROCESSES = 8
RUNS = 200
WORKER = """
import os, sys
from pathlib import Path
from builder.run import RunOptions, RunTarget, run_snippet
from verifier.policy import TrustPolicy
root, log, sha = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
policy = TrustPolicy.load(root / "dev/sealbook.dev.toml")
target = RunTarget.parse("ops/demo@1.1.0", "noop", sha)
options = RunOptions(releases=root / "releases", log=log, say=lambda _line: None)
for _ in range(int(sys.argv[4])):
    assert run_snippet(target, policy, options).exit_code == 0
"""


@pytest.mark.slow
def test_concurrent_runs_form_one_valid_chain(run_releases: Path, tmp_path: Path) -> None:
    raw = (run_releases / "releases/1.1.0/manifest.json").read_bytes()
    sha = Manifest.from_bytes(raw).runbook("ops/demo").snippet("noop").digest  # type: ignore[union-attr]
    log = tmp_path / "runs.jsonl"
    env = {"SEALBOOK_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    # Warm the verdict cache once so the workers race on the log, not on sigstore imports.
    warm = [sys.executable, "-c", WORKER, str(run_releases), str(tmp_path / "warm.jsonl"), sha]
    subprocess.run([*warm, "1"], env=env, check=True, timeout=120)
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(run_releases), str(log), sha, str(RUNS)], env=env
        )
        for _ in range(PROCESSES)
    ]
    assert [w.wait(timeout=600) for w in workers] == [0] * PROCESSES
    records = [json.loads(line) for line in log.read_bytes().splitlines()]
    assert [r["seq"] for r in records] == list(range(1, 2 * PROCESSES * RUNS + 1))
    kinds = Counter(r["type"] for r in records)
    assert kinds == {"started": PROCESSES * RUNS, "finished": PROCESSES * RUNS}
    by_run = Counter(r["run_id"] for r in records)
    assert len(by_run) == PROCESSES * RUNS and set(by_run.values()) == {2}
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    report = verify_logs([log], run_releases / "releases", policy)
    assert report.exit_code == 0 and report.failed == 0, report.render("text")[-2000:]
    assert report.total == 2 * PROCESSES * RUNS
