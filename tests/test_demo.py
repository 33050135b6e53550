"""`sealbook demo` end to end: sign, verify, build, run, audit; offline; reruns; never touches HOME."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli


def test_demo_end_to_end_twice_and_home_untouched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    demo = tmp_path / "demo"
    env = {
        "HOME": str(home),
        "XDG_CACHE_HOME": "",
        "XDG_STATE_HOME": "",
        "SEALBOOK_LOG": "",
        "SEALBOOK_POLICY": "",
    }
    first = run_cli("sealbook", "demo", "--dir", str(demo), env=env, timeout=300)
    assert first.returncode == 0, first.stderr + first.stdout
    out = first.stdout
    for expected in (
        "released 2026.11.0",
        "released 2026.11.1",
        "verified 2 releases",
        "files verified; 0 failed",
        "records verified; 0 failed",
        "file://",
        "DEV",
    ):
        assert expected in out, expected
    assert (demo / "site" / "index.html").is_file()
    records = [json.loads(line) for line in (demo / "runs.jsonl").read_text().splitlines()]
    assert [r["type"] for r in records] == ["started", "finished"] and records[1]["exit_code"] == 0
    assert list(home.iterdir()) == []  # no cache, log or policy written for the user

    second = run_cli("sealbook", "demo", "--dir", str(demo), env=env, timeout=300)
    assert second.returncode == 0, second.stderr
    assert len((demo / "runs.jsonl").read_text().splitlines()) == 2  # started clean


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    proc = run_cli("sealbook", "demo", "--dir", str(precious))
    assert proc.returncode == 2 and "not a sealbook demo folder" in proc.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
