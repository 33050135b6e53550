"""Runnable or reference (`builder.runnable`): what sealbook signs as executable, and why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.runbook import Catalog, load_catalog
from tests.conftest import run_cli


def _catalog(tmp_path: Path, body: str, settings: str | None = None) -> Catalog:
    folder = tmp_path / "runbooks"
    folder.mkdir(exist_ok=True)
    (folder / "ops.md").write_text(f"# Ops\n\n{body}", encoding="utf-8")
    if settings is not None:
        (folder / "catalog.toml").write_text(settings, encoding="utf-8")
    return load_catalog(folder)


def _only(catalog: Catalog) -> tuple[bool, list[tuple[str, str]]]:
    (snippet,) = catalog.runbooks[0].snippets
    return snippet.executable, [(p.severity, p.code) for p in catalog.problems]


CASES = {
    "prompt in a bash block": ("```bash\n$ ls -l\ntotal 0\n```\n", "prompt-in-block"),
    "placeholder": ("```sh\nkubectl logs <pod-name>\n```\n", "placeholder"),
    "bash -n failure": ("```bash\nif true; then\n```\n", "bash-syntax"),
    "console without a prompt": ("```console\nls -l\n```\n", "console-no-prompt"),
    "non-ASCII code": ("```bash\necho ok | grеp ok\n```\n", "non-ascii-code"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_block_that_cannot_run_as_signed_is_reference_with_a_warning(
    tmp_path: Path, name: str
) -> None:
    body, code = CASES[name]
    executable, problems = _only(_catalog(tmp_path, body))
    assert not executable
    assert ("warning", code) in problems and not any(s == "error" for s, _ in problems)


@pytest.mark.parametrize("name", sorted(CASES))
def test_run_true_turns_the_warning_into_an_error(tmp_path: Path, name: str) -> None:
    body, code = CASES[name]
    fence, rest = body.split("\n", 1)
    executable, problems = _only(_catalog(tmp_path, f"{fence} {{run=true}}\n{rest}"))
    assert not executable and ("error", code) in problems


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_strict_catalog_makes_every_reason_an_error(tmp_path: Path, name: str) -> None:
    executable, problems = _only(_catalog(tmp_path, CASES[name][0], "require_runnable = true\n"))
    assert not executable and ("error", CASES[name][1]) in problems


def test_run_false_is_reference_without_a_word(tmp_path: Path) -> None:
    executable, problems = _only(
        _catalog(tmp_path, "```bash {run=false}\nkubectl logs <pod>\n```\n")
    )
    assert not executable and problems == []


@pytest.mark.parametrize(
    "body",
    [
        '```bash {#logs params="POD"}\nkubectl logs "${POD:?}"\n```\n',
        "```bash\necho '<b>bold</b>' > /tmp/x.html  # a <comment>\n```\n",
        "```bash\ncat <<'EOF'\n<pod-name> is data here\nEOF\n```\n",
        "```console\n$ kubectl get pods\nNAME   READY\nweb-1  1/1\n```\n",
    ],
    ids=["declared-parameter", "quoted-and-comment", "heredoc-body", "console-transcript"],
)
def test_blocks_that_run_as_signed_are_executable(tmp_path: Path, body: str) -> None:
    executable, problems = _only(_catalog(tmp_path, body))
    assert executable and problems == []


def test_console_transcript_signs_only_its_commands(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, "```console\n$ uptime\n 10:00 up 3 days\n```\n")
    assert catalog.runbooks[0].snippets[0].text == "uptime\n"


def test_unreadable_catalog_settings_fail_closed(tmp_path: Path) -> None:
    executable, problems = _only(_catalog(tmp_path, CASES["placeholder"][0], "strict = [\n"))
    assert not executable
    assert ("error", "catalog-settings-invalid") in problems and (
        "error",
        "placeholder",
    ) in problems


def test_check_github_format_annotates_each_line(tmp_path: Path) -> None:
    _catalog(tmp_path, "```sh\nkubectl logs <pod-name>\n```\n")
    proc = run_cli(
        "sealbook", "check", "--runbooks", str(tmp_path / "runbooks"), "--format", "github"
    )
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith(f"::warning file={tmp_path}/runbooks/ops.md,line=4,title=placeholder::")
    assert "${POD_NAME:?}" in first
