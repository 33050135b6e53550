"""`sealbook preview --serve`: 127.0.0.1 only, rebuilt on save, problems on the page and in the
terminal, the open page told to reload, a clean stop on SIGINT leaving nothing behind."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import REPO

PAGE = "runbooks/postgres/failover/r1.html"


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
        return str(response.read().decode("utf-8"))


def _until(what: str, check: object, timeout: float = 15.0) -> float:
    """Seconds until ``check()`` is true (fails after ``timeout``)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            if check():  # type: ignore[operator]
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_rebuilds_on_save_shows_problems_and_stops_cleanly(tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    shutil.copytree(REPO / "runbooks", runbooks)
    out = tmp_path / "site"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-u", "-m", "builder._cli", "preview", "--serve", "--port", "0"),
            *("--runbooks", str(runbooks), "--out", str(out)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))  # type: ignore[union-attr]
    reader.start()
    try:
        _until("the server", lambda: any("serving the UNSIGNED PREVIEW" in x for x in lines), 60)
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))
        assert url is not None, lines
        base = url.group(0)
        page = _get(base + PAGE)
        assert '<script src="/__sealbook/reload.js"></script></body>' in page
        generation = _get(base + "__sealbook/generation")
        assert "location.reload()" in _get(base + "__sealbook/reload.js")

        # An edit shows on the served page.
        failover = runbooks / "postgres" / "failover.md"
        failover.write_text(
            failover.read_text(encoding="utf-8").replace(
                "## Impact", "## Impact\n\nEDITED-BY-THE-TEST.\n", 1
            ),
            encoding="utf-8",
        )
        seconds = _until("the edit", lambda: "EDITED-BY-THE-TEST" in _get(base + PAGE))
        assert _get(base + "__sealbook/generation") != generation  # the open page reloads
        print(f"edit visible after {seconds:.2f} s")

        # A problem shows on its page, beside its block, and in the terminal.
        failover.write_text(
            failover.read_text(encoding="utf-8").replace("```bash", "```bahs", 1),
            encoding="utf-8",
        )
        _until(
            "the problem on the page",
            lambda: 'data-code="language-near-miss"' in _get(base + PAGE),
        )
        assert "sb-snippet-problems" in _get(base + PAGE)
        _until(
            "the problem in the terminal", lambda: any("[language-near-miss]" in x for x in lines)
        )
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        reader.join(timeout=5)
        proc.stdout.close()  # type: ignore[union-attr]
    assert code == 0, lines
    assert lines[-1].strip() == "stopped"
    # Nothing outside the output: the runbooks, the published symlink and its builds.
    assert sorted(p.name for p in tmp_path.iterdir()) == [".site.builds", "runbooks", "site"]
    assert not [p for p in runbooks.rglob("*") if p.name.startswith((".tmp", "."))]
    assert os.path.islink(out)
