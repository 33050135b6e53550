"""`sealbook preview` runs the full check: every problem reported (terminal and page), no
runbook silently dropped, exit 1 on errors, and its pages say only what is true of a preview."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, run_cli


@pytest.fixture(scope="module")
def previewed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str, int]:
    """The sample catalog with three mistakes, previewed; (runbooks, site, stdout, stderr, rc)."""
    root = tmp_path_factory.mktemp("preview-check")
    runbooks = root / "runbooks"
    shutil.copytree(REPO / "runbooks", runbooks)
    lag = runbooks / "postgres" / "replication-lag.md"
    text = lag.read_text(encoding="utf-8")
    lag.write_text(
        text.replace('{#drop-slot params="SLOT_NAME"}', '{#drop-slot params="SLOT_NAME TIMEOUT"}')
    )
    (runbooks / "web" / "broken.md").write_text(
        "---\ntitle: [broken\n---\n# Broken one\n\n```bahs\nls\n```\n", encoding="utf-8"
    )
    (runbooks / "web" / "binary.md").write_bytes(b"\x00binary")
    site = root / "site"
    done = run_cli("sealbook", "preview", "--runbooks", str(runbooks), "--out", str(site))
    return runbooks, site, done.stdout, done.stderr, done.returncode


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text("utf-8"))))


def test_every_problem_is_printed_as_check_prints_it(
    previewed: tuple[Path, Path, str, str, int],
) -> None:
    runbooks, _, stdout, stderr, code = previewed
    check = run_cli("sealbook", "check", "--runbooks", str(runbooks))
    assert code == 1, stdout + stderr  # errors: non-zero, the preview is built anyway
    problems = [line for line in stderr.splitlines() if line.startswith(str(runbooks))]
    assert problems == check.stdout.splitlines()[:-1]
    assert [p.rsplit("[", 1)[1] for p in problems] == [
        "param-unused]",
        "file-binary]",
        "front-matter-invalid]",
        "language-near-miss]",
    ]
    assert "16 runbooks, 1 that cannot be released" in stdout
    assert "check: 2 errors, 2 warnings" in stdout


def test_a_broken_front_matter_still_gets_a_page_that_says_why(
    previewed: tuple[Path, Path, str, str, int],
) -> None:
    _, site, *_ = previewed
    page = site / "runbooks" / "web" / "broken" / "r1.html"
    text = _text(page)
    assert "2 problems found by sealbook check in this runbook; its errors stop a release" in text
    assert "line 3: error: YAML front matter does not parse" in text
    # The block's own problem sits inside its figure, before its code.
    raw = page.read_text("utf-8")
    figure = raw[raw.index('<figure class="sb-snippet"') : raw.index("</figure>")]
    assert 'data-code="language-near-miss"' in figure
    assert figure.index("sb-snippet-problems") < figure.index('<pre class="sb-code')


def test_a_problem_is_shown_beside_its_block(previewed: tuple[Path, Path, str, str, int]) -> None:
    _, site, *_ = previewed
    raw = (site / "runbooks" / "postgres" / "replication-lag" / "r1.html").read_text("utf-8")
    start = raw.index('id="snippet-drop-slot"')
    figure = raw[start : raw.index("</figure>", start)]
    assert 'data-code="param-unused"' in figure and "TIMEOUT" in figure
    assert raw.count('data-code="param-unused"') == 2  # the page's banner and the block


def test_files_without_a_page_are_listed_on_the_catalog(
    previewed: tuple[Path, Path, str, str, int],
) -> None:
    runbooks, site, *_ = previewed
    text = _text(site / "index.html")
    assert f"Files that cannot be shown: {runbooks / 'web' / 'binary.md'} line 1" in text


def test_preview_pages_say_only_what_is_true(previewed: tuple[Path, Path, str, str, int]) -> None:
    _, site, *_ = previewed
    catalog = _text(site / "index.html")
    assert "Every command on these pages is the signed text" not in catalog
    assert "an unsigned preview. Nothing here is signed or released" in catalog
    assert "after every release and the chain verified" not in _text(site / "audit.html")
    assert "Each release is one signed manifest" not in _text(site / "releases.html")


def test_a_clean_catalog_previews_with_exit_0(tmp_path: Path) -> None:
    done = run_cli(
        "sealbook", "preview", "--runbooks", str(REPO / "runbooks"), "--out", str(tmp_path / "p")
    )
    assert done.returncode == 0, done.stderr
    assert "check: 0 errors, 0 warnings" in done.stdout
    assert (
        "sb-problems"
        not in (tmp_path / "p" / "runbooks" / "postgres" / "failover" / "r1.html").read_text()
    )
