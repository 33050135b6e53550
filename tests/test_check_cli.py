"""`sealbook check` end to end, through a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def sealbook_check(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "builder._cli", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_clean_folder_exits_0(tmp_path: Path) -> None:
    write(tmp_path, "db/failover.md", "---\ntitle: Failover\n---\n\n```bash\necho ok\n```\n")
    write(tmp_path, "db/_index.md", "")
    done = sealbook_check("--runbooks", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"ok: 1 runbook, 1 snippet checked in {tmp_path}: 0 errors, 0 warnings"
    ]
    assert done.stderr == ""


def test_warnings_only_exit_0(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# A\n\n```yaml\nname: caf\u00e9\n```\n")
    done = sealbook_check("--runbooks", str(tmp_path))
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == (
        f"{tmp_path / 'a.md'}:4: warning: non-ASCII character in a reference block: "
        "name: caf<U+00E9> [non-ascii-reference]"
    )
    assert done.stdout.splitlines()[-1].endswith("0 errors, 1 warning")


def test_errors_exit_1_one_line_each(tmp_path: Path) -> None:
    write(tmp_path, "a.md", "# A\n\n```bash {run=true}\nif true; then\n```\n")
    write(tmp_path, "b.md", "# B\n\n```bash {#x}\necho '\u202e'\n```\n```sh {#x}\necho\n```\n")
    done = sealbook_check("--runbooks", str(tmp_path))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.rsplit(" [", 1)[-1] for line in lines[:-1]] == [
        "bash-syntax]",
        "bidi-control]",
        "id-duplicate]",
    ]
    assert lines[0].startswith(f"{tmp_path / 'a.md'}:4: error: bash -n: ")
    assert lines[-1].startswith("FAILED: 2 runbooks, 3 snippets")
    assert "Traceback" not in done.stderr


def test_unreadable_folder_exits_3(tmp_path: Path) -> None:
    done = sealbook_check("--runbooks", str(tmp_path / "missing"))
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"sealbook: {tmp_path / 'missing'}: no such runbooks folder "
        "(pass the folder with --runbooks DIR)"
    ]


def test_default_folder_is_runbooks_in_cwd(tmp_path: Path) -> None:
    write(tmp_path, "runbooks/x.md", "# X\n\nCall someone.\n")
    done = sealbook_check(cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "1 runbook, 0 snippets checked in runbooks" in done.stdout


def test_sample_catalog_passes() -> None:
    done = sealbook_check("--runbooks", str(REPO / "runbooks"))
    assert done.returncode == 0, done.stdout


def test_json_lists_the_same_problems_and_escapes_hostile_text(tmp_path: Path) -> None:
    import json

    write(tmp_path, "a.md", "# A\n\n```bash {run=true}\nif true; then\n```\n")
    write(tmp_path, "b.md", "# B\n\n```bash {#x}\necho '\u202e'\n```\n```sh {#x}\necho\n```\n")
    text = sealbook_check("--runbooks", str(tmp_path))
    done = sealbook_check("--runbooks", str(tmp_path), "--format", "json")
    assert done.returncode == text.returncode == 1
    assert done.stdout.isascii() and "\u202e" not in done.stdout
    doc = json.loads(done.stdout)
    assert doc["schema"] == "sealbook.check-report/v1"
    assert doc["summary"] == {"runbooks": 2, "snippets": 3, "errors": 3, "warnings": 0}
    lines = [
        f"{p['path']}:{p['line']}: {p['severity']}: {p['message']} [{p['code']}]"
        for p in doc["problems"]
    ]
    shown = [line.replace("\u202e", "<U+202E>") for line in lines]
    assert shown == text.stdout.splitlines()[:-1]
    clean = sealbook_check("--runbooks", str(REPO / "runbooks"), "--format", "json")
    assert clean.returncode == 0 and json.loads(clean.stdout)["problems"] == []
