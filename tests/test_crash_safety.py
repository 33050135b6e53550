"""kill -9 at random points during `release`, `build` and `run`: nothing valid is lost.

Each command runs as a real subprocess in its own process group and is killed (SIGKILL,
the whole group: what an OOM killer or a power cut leaves) after a random delay in
[0, its measured duration], with a fixed seed. Afterwards:

- releases: every earlier release is byte-for-byte intact and `verify releases` passes;
  no half-written release is visible (only hidden ``.tmp-*`` folders, which the next
  release removes, and the lock file ``.lock``);
- build: the published site is the old one or a complete new one and `verify site` passes;
- run: the log's chain is intact; a killed run shows as ``run-unfinished``, a torn tail as
  ``log-truncated`` until the next append records it (``log-recovered``); no line is ever
  silently dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget
from tests.conftest import run_cli
from verifier.manifest import MANIFEST_NAME, Manifest

pytestmark = pytest.mark.slow

KILLS = 7
CATALOG = {
    "ops/restart.md": (
        "# Restart\n\n## Restart the app\n```bash {#restart}\necho restarting\n```\n"
        "## Slow step\n```bash {#slow}\necho start; sleep 0.4; echo done\n```\n"
    ),
    "db/failover.md": "# Failover\n\n```console\n$ echo promote\npromoted\n```\n",
}
# Chain findings that would mean a record was lost, edited or inserted.
LOSS = {"log-chain-broken", "log-sequence-gap", "record-malformed", "log-head-mismatch"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash")
    for rel, text in CATALOG.items():
        (root / "runbooks" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "runbooks" / rel).write_text(text)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    for version in ("1.0", "1.1"):
        make_release(load_catalog(root / "runbooks"), version, root / "releases", target)
        (root / "runbooks" / "ops" / "restart.md").write_text(
            CATALOG["ops/restart.md"] + "\nMore.\n"
        )
    return root


def policy(root: Path) -> str:
    return str(root / "dev" / "sealbook.dev.toml")


def spawn(*argv: str, cwd: Path) -> subprocess.Popen[bytes]:
    # A temp dir of the test's own: what a killed command leaves there is checked.
    tmp = cwd / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "SEALBOOK_POLICY": "", "SEALBOOK_LOG": "", "TMPDIR": str(tmp)}
    return subprocess.Popen(
        [sys.executable, "-m", "builder._cli", *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: we kill exactly what we started
    )


def timed(*argv: str, cwd: Path) -> float:
    """Run to completion; return the duration (the kill window)."""
    start = time.monotonic()
    assert spawn(*argv, cwd=cwd).wait(timeout=120) == 0, argv
    return time.monotonic() - start


def kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
    """SIGKILL the process group after ``delay``; True if it was still running."""
    time.sleep(delay)
    alive = proc.poll() is None
    if alive:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return alive


def tree_digest(folder: Path) -> str:
    sha = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        sha.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return sha.hexdigest()


def verify(*argv: str, root: Path) -> tuple[int, dict[str, object]]:
    proc = run_cli("sealbook-verify", *argv, "--policy", policy(root), "--format", "json")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout) if proc.stdout else {}


def test_kill_9_during_release_never_damages_or_half_writes_a_release(
    world: Path, tmp_path: Path
) -> None:
    root = tmp_path / "w"
    shutil.copytree(world, root)
    releases = root / "releases"
    before = {v: tree_digest(releases / v) for v in ("1.0", "1.1")}
    common = ("--runbooks", "runbooks", "--releases", "releases", "--instance", "dev", "--dev-state", "dev")  # fmt: skip
    typical = timed("release", "1.2", *common, cwd=root)
    rng = random.Random(20261128)
    killed = 0
    for i in range(KILLS):
        (root / "runbooks" / "ops" / "restart.md").write_text(
            CATALOG["ops/restart.md"] + f"\nEdit {i}.\n"
        )
        killed += kill_after(spawn("release", f"2.{i}", *common, cwd=root), rng.uniform(0, typical))
        visible = sorted(p.name for p in releases.iterdir() if not p.name.startswith("."))
        hidden = [p.name for p in releases.iterdir() if p.name.startswith(".")]
        assert all(h.startswith(".tmp-") or h == ".lock" for h in hidden), hidden
        for version in visible:  # a visible release is a complete one
            assert (releases / version / MANIFEST_NAME).is_file()
        assert {v: tree_digest(releases / v) for v in ("1.0", "1.1")} == before
        rc, doc = verify("releases", str(releases), root=root)
        assert rc == 0, doc
    assert killed >= KILLS // 2, "the kills should mostly land while release runs"
    # The next release succeeds, chains onto the newest complete one, removes the leftovers.
    proc = run_cli("sealbook", "release", "3.0", *common, cwd=root)
    assert proc.returncode == 0, proc.stderr
    assert [p.name for p in releases.iterdir() if p.name.startswith(".")] == [".lock"]
    rc, doc = verify("releases", str(releases), root=root)
    assert rc == 0 and doc["summary"]["failed"] == 0  # type: ignore[index]
    head = Manifest.from_bytes((releases / "3.0" / MANIFEST_NAME).read_bytes())
    assert head.previous is not None


def test_kill_9_during_build_leaves_the_published_site_whole(world: Path, tmp_path: Path) -> None:
    root = tmp_path / "w"
    shutil.copytree(world, root)
    args = ("build", "--releases", "releases", "--out", "site", "--policy", policy(root))
    typical = timed(*args, cwd=root)
    site = root / "site"
    assert site.is_symlink()
    rng = random.Random(7)
    killed = 0
    for _ in range(KILLS - 2):
        old_target = os.readlink(site)
        old_digest = tree_digest(site.resolve())
        killed += kill_after(spawn(*args, cwd=root), rng.uniform(0, typical))
        assert site.is_symlink(), "the published path must stay a symlink to one build"
        if os.readlink(site) == old_target:  # killed before the flip: untouched
            assert tree_digest(site.resolve()) == old_digest
        rc, doc = verify("site", str(site), "--releases", str(root / "releases"), root=root)
        assert rc == 0, [r for r in doc.get("results", []) if not r["ok"]][:3]  # type: ignore[union-attr, index]
    assert killed >= 2
    assert timed(*args, cwd=root) > 0  # and the next build publishes over any leftovers
    rc, _ = verify("site", str(site), "--releases", str(root / "releases"), root=root)
    assert rc == 0
    # Nothing a killed build left behind outlives the next build: only the published build
    # and the one before it (each with its page cache index), nothing in the temp dir but
    # Jinja's bytecode cache.
    builds = sorted(p.name for p in (root / ".site.builds").iterdir())
    kept = sorted(p.name for p in (root / ".site.builds").iterdir() if p.is_dir())
    assert len(kept) == 2, builds
    assert builds == sorted([".lock", *kept, *(f"{k}.pages.json" for k in kept)]), builds
    assert [p.name for p in (root / "tmp").iterdir() if "jinja2" not in p.name] == []


def _log_reasons(root: Path, log: Path) -> list[str]:
    rc, doc = verify("logs", str(log), "--releases", str(root / "releases"), root=root)
    assert rc in (0, 1), doc
    return [r["reason"] for r in doc["results"]]  # type: ignore[index, union-attr]


def test_kill_9_during_run_keeps_the_log_chain_and_reports_every_torn_byte(
    world: Path, tmp_path: Path
) -> None:
    root = tmp_path / "w"
    shutil.copytree(world, root)
    log = root / "runs.jsonl"
    manifest = Manifest.from_bytes((root / "releases" / "1.1" / MANIFEST_NAME).read_bytes())
    slow = manifest.runbook("ops/restart").snippet("slow")  # type: ignore[union-attr]
    assert slow is not None
    args = ("run", "ops/restart@1.1", "slow", "--sha256", slow.digest.removeprefix("sha256:"),
            "--releases", "releases", "--policy", policy(root), "--log", str(log))  # fmt: skip
    typical = timed(*args, cwd=root)
    rng = random.Random(11)
    for _ in range(KILLS):
        kill_after(spawn(*args, cwd=root), rng.uniform(0, typical))
        reasons = _log_reasons(root, log)
        lines = log.read_bytes().count(b"\n") + (0 if log.read_bytes().endswith(b"\n") else 1)
        assert len(reasons) == lines, "one result per line: nothing dropped"
        assert not LOSS & set(reasons), Counter(reasons)
        assert set(reasons) <= {"verified", "run-unfinished", "log-truncated", "log-recovered"}
    # A writer that dies mid-line leaves torn bytes: reported, then recorded, never dropped.
    torn = b'{"schema":"sealbook.run/v1","seq":'
    with log.open("ab") as fh:
        fh.write(torn)
    assert _log_reasons(root, log)[-1] == "log-truncated"
    assert timed(*args, cwd=root) > 0
    reasons = _log_reasons(root, log)
    assert reasons[-4:] == ["log-recovered", "log-recovered", "verified", "verified"], reasons
    assert not LOSS & set(reasons)
    recovered, started, finished = (json.loads(x) for x in log.read_bytes().splitlines()[-3:])
    assert recovered["type"] == "recovered" and recovered["torn_bytes"] == len(torn)
    assert (started["type"], finished["type"]) == ("started", "finished")
