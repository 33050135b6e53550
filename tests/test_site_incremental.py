"""A build on top of a previous one equals a fresh build, byte for byte, file for file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.site_helpers import _cli, build_process, signed_site


def _build(releases: Path, out: Path, policy: Path) -> Path:
    _cli(
        "sealbook", "build", "--releases", str(releases), "--out", str(out), "--policy", str(policy)
    )
    return out.resolve()


def _files(build: Path) -> dict[str, list[str]]:
    data = json.loads((build / "site-manifest.json").read_text(encoding="utf-8"))
    return {path: [f["role"], f["digest"]] for path, f in data["files"].items()}


def test_incremental_build_equals_fresh_build(tmp_path: Path) -> None:
    s = signed_site()
    releases = tmp_path / "releases"
    releases.mkdir()
    shutil.copytree(s.releases / "1.0", releases / "1.0")
    out = tmp_path / "site"
    first = _build(releases, out, s.policy)
    shutil.copytree(s.releases / "1.1", releases / "1.1")
    second = _build(releases, out, s.policy)
    assert _files(second) == _files(s.build)
    for path in _files(second):
        assert (second / path).read_bytes() == (s.build / path).read_bytes(), path
    # What release 1.0 owns was carried over, not rendered again; what follows the head was.
    for owned in ("versions/1.0/index.html", "versions/1.0/runbooks/ops/restart.html"):
        assert (first / owned).stat().st_ino == (second / owned).stat().st_ino, owned
    for page in ("runbooks/ops/restart/r1.html", "releases/1.0/runbooks/ops/restart.md"):
        assert (first / page).stat().st_ino == (second / page).stat().st_ino, page
    assert (first / "index.html").stat().st_ino != (second / "index.html").stat().st_ino


def test_changed_site_settings_render_released_pages_again(tmp_path: Path) -> None:
    """The site's public URL changes every pinned command: no released page is carried over."""
    s = signed_site()
    out = tmp_path / "site"
    first = _build(s.releases, out, s.policy)
    text = s.policy.read_text(encoding="utf-8")
    assert "[site]" not in text
    policy = s.policy.with_name(f"with-url-{tmp_path.name}.toml")  # beside its trusted root
    policy.write_text(text + '\n[site]\nurl = "https://runbooks.example.org/"\n', encoding="utf-8")
    second = _build(s.releases, out, policy)
    page = "runbooks/ops/restart/r1.html"
    assert (first / page).stat().st_ino != (second / page).stat().st_ino
    assert "--from https://runbooks.example.org/" in (second / page).read_text(encoding="utf-8")


def test_a_rebuild_reuses_signature_verdicts_and_never_imports_sigstore(tmp_path: Path) -> None:
    """The verdict cache of `sealbook run` serves `sealbook build` too; manifests are rechecked."""
    import subprocess
    import sys

    s = signed_site()
    cache = tmp_path / "verdicts"
    argv = [
        "build", "--releases", str(s.releases), "--out", str(tmp_path / "site"),
        "--policy", str(s.policy), "--cache-dir", str(cache),
    ]  # fmt: skip
    probe = (
        "import sys; from builder._cli import main; code = main(sys.argv[1:]); "
        "print('sigstore imported:', 'sigstore.verify' in sys.modules); sys.exit(code)"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=False
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    # The first build verified both signatures in a child process, which filled the cache.
    assert "sigstore imported: False" in runs[1].stdout
    assert len(list(cache.iterdir())) == 2  # one verdict per release


def test_a_rebuild_never_follows_or_waits_on_what_was_planted_in_the_previous_build(
    tmp_path: Path,
) -> None:
    """A FIFO used to hang the build; a link to /dev/zero would exhaust its memory; a link to
    identical bytes would be carried into the new build as a link. Each is rendered again."""
    import os

    s = signed_site()
    out = tmp_path / "site"
    first = _build(s.releases, out, s.policy)
    fifo, zero, same = (
        "runbooks/ops/restart/r1.html",
        "runbooks/ops/restart/latest.html",
        "audit.html",
    )
    for path in (fifo, zero, same):
        (first / path).unlink()
    os.mkfifo(first / fifo)
    (first / zero).symlink_to("/dev/zero")
    shutil.copyfile(s.build / same, tmp_path / "same.html")
    (first / same).symlink_to(tmp_path / "same.html")
    proc = build_process(s.releases, out, s.policy)
    assert proc.returncode == 0, proc.stderr
    second = out.resolve()
    assert second != first
    for path in _files(second):
        assert (second / path).is_file() and not (second / path).is_symlink(), path
        assert (second / path).read_bytes() == (s.build / path).read_bytes(), path


def test_a_fifo_planted_as_the_page_cache_index_is_not_waited_on(tmp_path: Path) -> None:
    import os

    s = signed_site()
    out = tmp_path / "site"
    first = _build(s.releases, out, s.policy)
    index = first.with_name(first.name + ".pages.json")
    index.unlink()
    os.mkfifo(index)
    proc = build_process(s.releases, out, s.policy)
    assert proc.returncode == 0, proc.stderr
    assert _files(out.resolve()) == _files(s.build)
