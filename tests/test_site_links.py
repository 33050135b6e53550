"""Carrying files over from the previous build: hard links made by a child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from builder.site.sitemanifest import SiteFiles, SiteManifestError, _link_all
from verifier.digests import digest


def _stat(path: Path) -> tuple[int, int, int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def test_links_are_made_by_a_child_and_keep_the_proven_inode(tmp_path: Path) -> None:
    old = tmp_path / "old"
    (old / "a").mkdir(parents=True)
    (old / "a" / "p.html").write_bytes(b"page")
    files = SiteFiles(tmp_path / "new")
    (tmp_path / "new").mkdir()
    proven = _stat(old / "a" / "p.html")
    files.link(str(old / "a" / "p.html"), "a/b/p.html", digest(b"page"), "page", proven)
    files.start_links()
    files.write("index.html", b"home", "page")  # the parent goes on meanwhile
    files.finish_links()
    assert (tmp_path / "new/a/b/p.html").stat().st_ino == proven[1]
    assert files.stats["a/b/p.html"] == proven
    assert files.files["a/b/p.html"].digest == digest(b"page")


def test_a_file_changed_after_its_proof_is_copied_and_checked(tmp_path: Path) -> None:
    src = tmp_path / "src.html"
    src.write_bytes(b"same bytes")
    stale = (0, 0, 0, 0)  # not the stat it has now: the link is undone, the copy hashed
    stats: dict[str, tuple[int, int, int, int]] = {}
    (tmp_path / "site").mkdir()
    assert (
        _link_all(
            str(tmp_path / "site"), [(str(src), "x.html", digest(b"same bytes"), stale)], stats
        )
        == ""
    )
    copy = tmp_path / "site/x.html"
    assert copy.read_bytes() == b"same bytes" and copy.stat().st_ino != src.stat().st_ino
    assert stats["x.html"] == _stat(copy)
    problem = _link_all(str(tmp_path / "site"), [(str(src), "y.html", digest(b"other"), stale)], {})
    assert "changed since it was proven" in problem


def test_a_failed_child_stops_the_build(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    files = SiteFiles(tmp_path / "new")
    files.link(str(tmp_path / "missing.html"), "p.html", digest(b"x"), "page", (1, 2, 3, 4))
    files.start_links()
    with pytest.raises(SiteManifestError, match="cannot carry"):
        files.finish_links()


def test_abort_stops_the_child(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    src = tmp_path / "s.html"
    src.write_bytes(b"s")
    files = SiteFiles(tmp_path / "new")
    for i in range(200):
        files.link(str(src), f"d{i}/p.html", digest(b"s"), "page", _stat(src))
    files.start_links()
    assert files._child is not None
    pid = files._child[0]
    files.abort_links()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # killed and reaped: no zombie left behind


def test_deferred_pages_are_written_by_the_child_and_recorded(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    files = SiteFiles(tmp_path / "new")
    parent = os.getpid()
    files.defer("a/b.html", "alias", lambda: f"made by {os.getpid() != parent}".encode())
    files.start_links()
    files.finish_links()
    assert (tmp_path / "new/a/b.html").read_bytes() == b"made by True"
    assert files.files["a/b.html"].role == "alias"
    assert files.files["a/b.html"].digest == digest(b"made by True")
    assert files.stats["a/b.html"] == _stat(tmp_path / "new/a/b.html")


def test_a_failing_deferred_page_stops_the_build(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    files = SiteFiles(tmp_path / "new")

    def broken() -> bytes:
        raise ValueError("template broke")

    files.defer("x.html", "alias", broken)
    files.start_links()
    with pytest.raises(SiteManifestError, match="template broke"):
        files.finish_links()
