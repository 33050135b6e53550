"""Hostile run logs and sites through `sealbook-verify`: whole-input failures exit 3 with one
line; a bad line inside a readable log is one failed record (exit 1); nothing hangs or crashes.

Rows of docs/hostile-input.md.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget
from tests.conftest import run_cli
from tests.test_hostile_inputs import one_line
from verifier.manifest import MANIFEST_NAME, Manifest

RUNBOOK = "# Restart\n\n## Restart the app\n```bash {#restart}\necho restarted\n```\n"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dev-signed release, a run log with two real runs, and a built site."""
    root = tmp_path_factory.mktemp("hostile-ls")
    (root / "runbooks" / "ops").mkdir(parents=True)
    (root / "runbooks" / "ops" / "restart.md").write_text(RUNBOOK)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    make_release(load_catalog(root / "runbooks"), "1.0", root / "releases", target)
    manifest = Manifest.from_bytes((root / "releases" / "1.0" / MANIFEST_NAME).read_bytes())
    snippet = manifest.runbook("ops/restart").snippet("restart")  # type: ignore[union-attr]
    assert snippet is not None
    for _ in range(2):
        proc = run_cli(
            "sealbook", "run", "ops/restart@1.0", "restart",
            "--sha256", snippet.digest.removeprefix("sha256:"), "--releases", "releases",
            "--policy", str(root / "dev" / "sealbook.dev.toml"), "--log", "runs.jsonl",
            cwd=root,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    proc = run_cli(
        "sealbook", "build", "--releases", "releases", "--out", "site",
        "--policy", str(root / "dev" / "sealbook.dev.toml"), cwd=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return root


@pytest.fixture
def work(made: Path, tmp_path: Path) -> Path:
    shutil.copytree(made, tmp_path / "w", symlinks=True)
    return tmp_path / "w"


def verify(work: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "sealbook-verify",
        *argv,
        "--policy",
        str(work / "dev" / "sealbook.dev.toml"),
        env={"SEALBOOK_POLICY": ""},
        cwd=work,
        timeout=60,
    )


def logs(work: Path, log: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    return verify(work, "logs", str(log), "--releases", str(work / "releases"), *extra)


def reasons(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [r["reason"] for r in json.loads(proc.stdout)["results"]]


# --- logs: whole input --------------------------------------------------------------------------


def test_clean_log_verifies(work: Path) -> None:
    proc = logs(work, work / "runs.jsonl", "--format", "json")
    assert proc.returncode == 0 and reasons(proc) == ["verified"] * 4


@pytest.mark.parametrize("what", ["missing", "folder", "fifo", "one-line-over-64-MiB"])
def test_log_that_cannot_be_read_exits_3(work: Path, what: str) -> None:
    path = work / "hostile.jsonl"
    if what == "folder":
        path.mkdir()
    elif what == "fifo":
        os.mkfifo(path)
    elif what == "one-line-over-64-MiB":
        with path.open("wb") as fh:
            fh.truncate((64 << 20) + (8 << 20) + 1)  # sparse, no newline
    one_line(logs(work, path), 3, str(path))


def test_missing_releases_folder_for_logs_exits_3(work: Path) -> None:
    proc = verify(work, "logs", str(work / "runs.jsonl"), "--releases", str(work / "nope"))
    one_line(proc, 3, str(work / "nope"))


@pytest.mark.parametrize("head", ["x", "3", "3:sha256:xyz", "-1:sha256:" + "0" * 64])
def test_malformed_expect_head_is_a_usage_error(work: Path, head: str) -> None:
    one_line(logs(work, work / "runs.jsonl", f"--expect-head={head}"), 2, "--expect-head")


@pytest.mark.parametrize("what", ["fifo", "folder", "no-record"])
def test_log_head_of_an_unreadable_log_exits_3(work: Path, what: str) -> None:
    path = work / "hostile.jsonl"
    if what == "fifo":
        os.mkfifo(path)
    elif what == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"garbage\n" * 100)
    proc = run_cli("sealbook", "log", "head", "--log", str(path), timeout=30)
    one_line(proc, 3, str(path))


# --- logs: a bad line is one failed record ------------------------------------------------------

BAD_LINES = {
    "garbage": b"this is not json",
    "not-utf8": b'{"seq": "\xff\xfe"}',
    "nul-bytes": b'{"seq":\x00 1}',
    "deep": b"[" * 5000,
    "huge": b'{"host": "' + b"a" * (70 << 10) + b'"}',
    "type-list": b'{"type": [], "seq": 3}',
    "nan": b'{"seq": NaN}',
    "bidi-and-newline-escape": b'{"host": "x\\nok   record FAKE\\u202e"}',
}


@pytest.mark.parametrize("name", sorted(BAD_LINES))
def test_bad_line_inside_a_readable_log_is_one_failed_record(work: Path, name: str) -> None:
    path = work / "runs.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], BAD_LINES[name] + b"\n", *lines[2:]]))
    proc = logs(work, path, "--format", "json")
    assert proc.returncode == 1 and proc.stderr == "" and "Traceback" not in proc.stderr
    got = reasons(proc)
    assert len(got) == 5, "one result per line"
    assert got[:3] == ["verified", "verified", "record-malformed"]
    text = logs(work, path)  # the text report cannot be forged into extra lines
    assert not any(line.startswith("ok   record FAKE") for line in text.stdout.splitlines())
    assert "\u202e" not in text.stdout


def test_emptied_log_with_anchored_head_fails_without_crashing(work: Path) -> None:
    head = run_cli("sealbook", "log", "head", "--log", str(work / "runs.jsonl")).stdout.strip()
    assert head.startswith("4:sha256:")
    (work / "runs.jsonl").write_bytes(b"")
    proc = logs(work, work / "runs.jsonl", "--expect-head", head, "--format", "json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert reasons(proc) == ["log-head-mismatch"]


def test_log_with_an_undecodable_file_name_still_gives_json(work: Path) -> None:
    path = Path(os.fsdecode(os.fsencode(work) + b"/runs-\xff.jsonl"))
    shutil.copy(work / "runs.jsonl", path)
    proc = logs(work, path, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["verified"] == 4


# --- site ---------------------------------------------------------------------------------------


def site(work: Path, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    return verify(work, "site", str(path or work / "site"), "--releases", str(work / "releases"))


def test_built_site_verifies(work: Path) -> None:
    assert site(work).returncode == 0


def _unlinked(work: Path) -> Path:
    """The published site as a plain folder we may edit."""
    target = work / "plain"
    shutil.copytree(work / "site", target, symlinks=False)
    return target


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "missing"),
        (b"", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[" * 5000, "nested too deeply"),
        (b'{"schema": "sealbook.site/v9"}', "unknown schema"),
    ],
    ids=["missing", "empty", "not-utf8", "deep", "wrong-shape"],
)
def test_site_manifest_that_cannot_be_parsed_exits_3(
    work: Path, content: bytes | None, needle: str
) -> None:
    plain = _unlinked(work)
    path = plain / "site-manifest.json"
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    one_line(site(work, plain), 3, str(path), needle)


def test_site_manifest_naming_a_path_outside_the_site_exits_3(work: Path) -> None:
    plain = _unlinked(work)
    path = plain / "site-manifest.json"
    doc = json.loads(path.read_bytes())
    doc["files"]["../../../etc/passwd"] = {"role": "page", "digest": "sha256:" + "0" * 64}
    path.write_text(json.dumps(doc))
    one_line(site(work, plain), 3, "not a safe relative path")


def test_missing_site_exits_3(work: Path) -> None:
    one_line(site(work, work / "nope"), 3, str(work / "nope"))


def test_symlink_and_fifo_planted_in_the_site_fail_their_items(work: Path) -> None:
    """Never followed or opened: a FIFO would hang the verifier, /dev/zero exhaust its memory,
    and a link, even to identical bytes, lets the site change without the folder changing."""
    plain = _unlinked(work)
    (plain / "leak.html").symlink_to("/etc/passwd")
    (plain / "zero.html").symlink_to("/dev/zero")
    (plain / "etc").symlink_to("/etc", target_is_directory=True)
    os.mkfifo(plain / "hang.html")
    (plain / "index.html").unlink()
    os.mkfifo(plain / "index.html")
    listed = plain / "releases.html"
    shutil.copyfile(listed, work / "same-bytes.html")
    listed.unlink()
    listed.symlink_to(work / "same-bytes.html")
    proc = verify(
        work, "site", str(plain), "--releases", str(work / "releases"), "--format", "json"
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    failed = {r["item"]: r["reason"] for r in json.loads(proc.stdout)["results"] if not r["ok"]}
    odd = ("leak.html", "zero.html", "etc", "hang.html", "index.html", "releases.html")
    assert failed == dict.fromkeys(odd, "site-file-unexpected")


# --- sealbook run over hostile release files ----------------------------------------------------


@pytest.mark.parametrize("source", ["--releases", "--from"])
def test_run_refuses_a_fifo_manifest_without_hanging(work: Path, source: str) -> None:
    folder = work / "releases" if source == "--releases" else work / "plain" / "releases"
    if source == "--from":
        shutil.copytree(work / "site", work / "plain", symlinks=False)
    manifest = folder / "1.0" / MANIFEST_NAME
    manifest.unlink()
    os.mkfifo(manifest)
    proc = run_cli(
        "sealbook", "run", "ops/restart@1.0", "restart", "--sha256", "0" * 64,
        source, str(folder if source == "--releases" else work / "plain"),
        "--policy", str(work / "dev" / "sealbook.dev.toml"), "--log", str(work / "runs.jsonl"),
        timeout=30,
    )  # fmt: skip
    one_line(proc, 125, str(manifest), "not a regular file", "nothing ran")
    last = json.loads((work / "runs.jsonl").read_bytes().splitlines()[-1])
    assert last["type"] == "refused"
