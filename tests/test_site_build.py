"""`sealbook build`: verify first, write nothing on failure, publish atomically, keep the old site."""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from builder._cli import main as sealbook
from tests.site_helpers import build_process, failures, signed_site
from tests.site_helpers import verify as verify_site


def _run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = sealbook(list(argv))
    return code, out.getvalue() + err.getvalue()


def test_tampered_release_writes_nothing(tmp_path: Path) -> None:
    s = signed_site()
    releases = tmp_path / "releases"
    shutil.copytree(s.releases, releases)
    with (releases / "1.0/runbooks/ops/restart.md").open("a") as fh:
        fh.write("\nrm -rf /\n")
    code, output = _run(
        "build",
        "--releases",
        str(releases),
        "--out",
        str(tmp_path / "site"),
        "--policy",
        str(s.policy),
    )
    assert code == 1
    assert "source-digest-mismatch" in output and "nothing was written" in output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["releases"]


def test_failed_build_leaves_previous_site_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = signed_site()
    out = tmp_path / "site"
    assert (
        _run("build", "--releases", str(s.releases), "--out", str(out), "--policy", str(s.policy))[
            0
        ]
        == 0
    )
    before = os.readlink(out)
    builds = sorted(p.name for p in (tmp_path / ".site.builds").iterdir())

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("builder.site.build.render_material", boom)
    code, output = _run(
        "build", "--releases", str(s.releases), "--out", str(out), "--policy", str(s.policy)
    )
    assert code != 0 and "disk full" in output
    assert os.readlink(out) == before
    assert sorted(p.name for p in (tmp_path / ".site.builds").iterdir()) == builds


def test_out_that_is_a_real_folder_is_refused(tmp_path: Path) -> None:
    s = signed_site()
    out = tmp_path / "site"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, output = _run(
        "build", "--releases", str(s.releases), "--out", str(out), "--policy", str(s.policy)
    )
    assert code == 1 and "not a site published by sealbook" in output
    assert (out / "keep.txt").read_text() == "mine"


def test_expect_latest_mismatch_refuses(tmp_path: Path) -> None:
    s = signed_site()
    code, output = _run(
        "build",
        "--releases",
        str(s.releases),
        "--out",
        str(tmp_path / "site"),
        "--policy",
        str(s.policy),
        "--expect-latest",
        "1.0:sha256:" + "0" * 64,
    )
    assert code == 1 and "release-not-latest" in output
    assert not (tmp_path / "site").exists()


def test_rebuild_rehashes_a_source_changed_since_the_last_build(tmp_path: Path) -> None:
    """The previous build's proven sources skip hashing only while their stat is unchanged."""
    s = signed_site()
    releases = tmp_path / "releases"
    shutil.copytree(s.releases, releases)
    out = tmp_path / "site"
    argv = ("build", "--releases", str(releases), "--out", str(out), "--policy", str(s.policy))
    assert _run(*argv)[0] == 0
    index = sorted((tmp_path / ".site.builds").glob("*.pages.json"))[-1].read_text()
    source = releases / "1.0/runbooks/ops/restart.md"
    assert str(source.absolute()) in index
    assert _run(*argv)[0] == 0  # unchanged: reused
    # Same size, mtime set back: only the inode's ctime tells (and it cannot be set back).
    st = source.stat()
    data = source.read_bytes()
    source.write_bytes(data[:-2] + (b"X\n" if data[-2:] != b"X\n" else b"Y\n"))
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    code, output = _run(*argv)
    assert code == 1
    assert "source-digest-mismatch" in output and "nothing was written" in output


def _spawn_build(releases: Path, out: Path, policy: Path) -> subprocess.Popen[str]:
    argv = ["build", "--releases", str(releases), "--out", str(out), "--policy", str(policy)]
    return subprocess.Popen(
        [sys.executable, "-m", "builder._cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "SEALBOOK_POLICY": ""},
    )


def test_a_build_waits_while_another_holds_the_site(tmp_path: Path) -> None:
    s = signed_site()
    out = tmp_path / "site"
    (tmp_path / ".site.builds").mkdir()
    with (tmp_path / ".site.builds" / ".lock").open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        proc = _spawn_build(s.releases, out, s.policy)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == f"sealbook: waiting for another build of {out} to finish\n"
        time.sleep(0.5)
        assert proc.poll() is None and not out.exists()  # nothing built or published meanwhile
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, output
    assert verify_site(out, s.policy, "--releases", str(s.releases))[0] == 0


def test_concurrent_builds_of_one_site_all_publish_a_whole_site(tmp_path: Path) -> None:
    """Without the lock, one build's pruning deleted the folder another built or published."""
    s = signed_site()
    out = tmp_path / "site"
    assert (
        _run("build", "--releases", str(s.releases), "--out", str(out), "--policy", str(s.policy))[
            0
        ]
        == 0
    )
    procs = [_spawn_build(s.releases, out, s.policy) for _ in range(3)]
    for proc in procs:
        output = proc.communicate(timeout=180)[0]
        assert proc.returncode == 0, output
    code, results = verify_site(out, s.policy, "--releases", str(s.releases))
    assert code == 0, failures(results)
    builds = [p for p in (tmp_path / ".site.builds").iterdir() if p.is_dir()]
    assert len(builds) == 2 and out.resolve() in builds


def test_a_preview_never_replaces_a_signed_site(tmp_path: Path) -> None:
    s = signed_site()
    out = tmp_path / "site"
    argv = ("--out", str(out))
    assert _run("build", "--releases", str(s.releases), *argv, "--policy", str(s.policy))[0] == 0
    published = os.readlink(out)
    builds = sorted(p.name for p in (tmp_path / ".site.builds").iterdir())
    runbooks = s.root / "runbooks"
    code, output = _run("preview", "--runbooks", str(runbooks), *argv)
    assert code == 1
    assert output == (
        f"sealbook: {out}: is a published signed site (or one sealbook cannot read); a preview "
        "never replaces it (choose another --out; the default is ./site-preview)\n"
    )
    assert os.readlink(out) == published
    assert sorted(p.name for p in (tmp_path / ".site.builds").iterdir()) == builds
    # A preview replaces a preview, and a signed build replaces a preview.
    preview = tmp_path / "preview"
    assert _run("preview", "--runbooks", str(runbooks), "--out", str(preview))[0] == 0
    assert _run("preview", "--runbooks", str(runbooks), "--out", str(preview))[0] == 0
    code, _ = _run(
        "build", "--releases", str(s.releases), "--out", str(preview), "--policy", str(s.policy)
    )
    assert code == 0
    assert verify_site(preview, s.policy, "--releases", str(s.releases))[0] == 0


@pytest.mark.parametrize("what", ["fifo-manifest", "dev-zero-bundle"])
def test_a_hostile_release_file_refuses_the_build_without_hanging(
    tmp_path: Path, what: str
) -> None:
    """Read before verification (to prefetch verdicts): a FIFO used to hang the build."""
    s = signed_site()
    releases = tmp_path / "releases"
    shutil.copytree(s.releases, releases)
    if what == "fifo-manifest":
        (releases / "1.1/manifest.json").unlink()
        os.mkfifo(releases / "1.1/manifest.json")
    else:
        (releases / "1.1/manifest.json.sigstore.json").unlink()
        (releases / "1.1/manifest.json.sigstore.json").symlink_to("/dev/zero")
    out = tmp_path / "site"
    proc = build_process(releases, out, s.policy)
    assert proc.returncode == 1, proc.stderr
    assert "nothing was written" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
