"""A preview page with a problem shows the banner and the problem beside its block."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.conftest import REPO, run_cli


def test_preview_problem_banner_and_block(chromium: Any, tmp_path: Path) -> None:
    runbooks = tmp_path / "runbooks"
    shutil.copytree(REPO / "runbooks", runbooks)
    lag = runbooks / "postgres" / "replication-lag.md"
    lag.write_text(
        lag.read_text(encoding="utf-8").replace(
            '{#drop-slot params="SLOT_NAME"}', '{#drop-slot params="SLOT_NAME TIMEOUT"}'
        ),
        encoding="utf-8",
    )
    out = tmp_path / "site"
    done = run_cli("sealbook", "preview", "--runbooks", str(runbooks), "--out", str(out))
    assert done.returncode == 0, done.stderr  # a warning: no error
    page = chromium.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto((out / "runbooks/postgres/replication-lag/r1.html").resolve().as_uri())
        banner = page.locator(".sb-page .sb-problems")
        assert banner.is_visible()
        assert banner.get_attribute("data-problems") == "1"
        assert "1 problem found by sealbook check" in banner.inner_text()
        beside = page.locator("figure#snippet-drop-slot .sb-snippet-problems li")
        assert beside.is_visible()
        assert beside.get_attribute("data-code") == "param-unused"
        assert "TIMEOUT" in beside.inner_text()
        # Only that block carries it.
        assert page.locator("figure .sb-snippet-problems").count() == 1
        # The banner's link lands on the block.
        page.locator(".sb-problems a[href='#snippet-drop-slot']").click()
        assert page.url.endswith("#snippet-drop-slot")
    finally:
        page.close()
    assert errors == []
