"""Lint that catches intent: one test per mistake an author makes that silently changes what
runs or what it is called. Each is reported with file:line, a stable code and the fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from builder.intent import CODES, distance, near_miss
from builder.lint import check_catalog
from builder.runbook import load_catalog
from tests.conftest import REPO, run_cli


def lint(tmp_path: Path, files: dict[str, str], strict: bool = False) -> list[str]:
    """``path:line: severity: message [code]`` of every problem, paths relative to the folder."""
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if strict:
        (tmp_path / "catalog.toml").write_text("require_runnable = true\n")
    problems = check_catalog(load_catalog(tmp_path))
    return [str(p).removeprefix(f"{tmp_path}/") for p in problems]


def codes(lines: list[str]) -> list[str]:
    return [line.rsplit("[", 1)[1].rstrip("]") for line in lines]


def one(lines: list[str], code: str) -> str:
    found = [line for line in lines if line.endswith(f"[{code}]")]
    assert len(found) == 1, lines
    return found[0]


# (1) near-miss languages


def test_near_miss_language_says_did_you_mean(tmp_path: Path) -> None:
    text = '# T\n\n```bahs {#x params="NS"}\nkubectl -n "${NS:?}" get pods\n```\n'
    line = one(lint(tmp_path, {"a.md": text}), "language-near-miss")
    assert line.startswith("a.md:3: warning: code block language 'bahs' is not one sealbook runs")
    assert "did you mean bash?" in line


@pytest.mark.parametrize("word", ["bsah", "shel", "consle", "shell-sesion", "bassh"])
def test_other_typos_are_caught(tmp_path: Path, word: str) -> None:
    assert "language-near-miss" in codes(lint(tmp_path, {"a.md": f"# T\n\n```{word}\nls\n```\n"}))


@pytest.mark.parametrize(
    "word", ["zsh", "yaml", "text", "promql", "ssh", "dash", "bash", "js", "hs"]
)
def test_real_languages_are_not_typos(tmp_path: Path, word: str) -> None:
    assert "language-near-miss" not in codes(
        lint(tmp_path, {"a.md": f"# T\n\n```{word}\nls\n```\n"})
    )


def test_distance_counts_a_swap_as_one() -> None:
    assert distance("bahs", "bash") == 1
    assert near_miss("alert", ("alerts", "title")) == "alerts"
    assert near_miss("reviewed", ("alerts", "title")) is None


# (2) fence attributes


def test_extra_word_after_the_id(tmp_path: Path) -> None:
    text = "# T\n\n```bash {#rollout status}\nkubectl rollout status deploy/web\n```\n"
    line = one(lint(tmp_path, {"a.md": text}), "fence-attribute-unknown")
    assert line.startswith("a.md:3: warning: word 'status' in fence attributes")
    assert "the id is 'rollout'" in line and "{#rollout-status}" in line


@pytest.mark.parametrize(
    ("info", "needle"),
    [
        ('bash {#x params="NS}', "unbalanced quote"),
        ("bash {#x params='NS}", "unbalanced quote"),
        ("bash {#x", "never closed"),
        ('bash {"name": x}', "not valid JSON"),
    ],
)
def test_malformed_attributes(tmp_path: Path, info: str, needle: str) -> None:
    line = one(
        lint(tmp_path, {"a.md": f"# T\n\n```{info}\necho\n```\n"}), "fence-attributes-malformed"
    )
    assert line.startswith("a.md:3: warning: ") and needle in line


def test_a_key_close_to_a_known_one(tmp_path: Path) -> None:
    text = '# T\n\n```bash {#x parmas="NS"}\necho "${NS:?}"\n```\n'
    lines = lint(tmp_path, {"a.md": text})
    assert "did you mean params=?" in one(lines, "fence-attribute-unknown")


def test_well_formed_attributes_are_quiet(tmp_path: Path) -> None:
    text = (
        '# T\n\n```bash {#a params="NS POD" run=true allow-non-ascii}\n'
        'kubectl -n "${NS:?}" delete pod "${POD:?}"\n```\n\n'
        '```bash { name=b interactive=false }\necho\n```\n\n```bash {"name":"c"}\necho\n```\n'
    )
    assert lint(tmp_path, {"a.md": text}) == []


# (3) parameters


def test_param_used_but_not_declared(tmp_path: Path) -> None:
    text = '# T\n\n```bash {#x}\necho start\nkubectl -n "${NAMESPACE:?}" get pods\n```\n'
    line = one(lint(tmp_path, {"a.md": text}), "param-undeclared")
    assert line.startswith("a.md:5: warning: parameter NAMESPACE is used")
    assert "add params=NAMESPACE" in line


def test_param_declared_but_unused(tmp_path: Path) -> None:
    text = '# T\n\n```bash {#x params="NS POD"}\nkubectl -n "${NS:?}" get pods\n```\n'
    line = one(lint(tmp_path, {"a.md": text}), "param-unused")
    assert line.startswith("a.md:3: warning: params= declares POD but the snippet never uses it")


def test_param_used_without_guard(tmp_path: Path) -> None:
    text = '# T\n\n```bash {#x params="POD"}\necho\nkubectl delete pod "$POD"\n```\n'
    line = one(lint(tmp_path, {"a.md": text}), "param-unguarded")
    assert line.startswith("a.md:5: warning: parameter POD is first used without :?")
    assert '"${POD:?}"' in line


def test_params_in_a_console_block_point_at_the_transcript_line(tmp_path: Path) -> None:
    text = '# T\n\n```console {#x}\n$ echo hi\nhi\n$ kubectl -n "${NS:?}" get pods\n```\n'
    assert one(lint(tmp_path, {"a.md": text}), "param-undeclared").startswith("a.md:6:")


def test_what_is_not_a_parameter(tmp_path: Path) -> None:
    text = (
        '# T\n\n```bash {#x params="NS"}\n'
        'for POD in $(kubectl -n "${NS:?}" get pods -o name); do echo "$POD"; done\n'
        "echo '${LITERAL:?}'  # ${COMMENT:?}\n"
        "cat <<'EOF'\n${QUOTED_HEREDOC:?}\nEOF\n"
        'TARGET=web; echo "${TARGET:?}" "$HOME"\n```\n'
    )
    assert lint(tmp_path, {"a.md": text}) == []


# (4) front matter


def test_alert_instead_of_alerts(tmp_path: Path) -> None:
    text = "---\ntitle: Disk full\nalert: DiskFull\n---\n# Disk full\n\nText.\n"
    line = one(lint(tmp_path, {"a.md": text}), "front-matter-unknown-key")
    assert line == (
        "a.md:3: warning: front-matter key 'alert' is not one sealbook reads (it is kept, "
        "unused): did you mean 'alerts'? [front-matter-unknown-key]"
    )


def test_toml_and_other_near_keys(tmp_path: Path) -> None:
    text = '+++\ntitle = "T"\nowner = "dba"\nsevrity = "high"\nlast_reviewed = 2024-01-01\n+++\nText.\n'
    lines = [x for x in lint(tmp_path, {"a.md": text}) if x.endswith("[front-matter-unknown-key]")]
    assert [(x.split(":")[1], x.split("did you mean ")[1]) for x in lines] == [
        ("3", "'owners'? [front-matter-unknown-key]"),
        ("4", "'severity'? [front-matter-unknown-key]"),
    ]


# (5) links


def test_links_to_missing_runbooks_files_and_anchors(tmp_path: Path) -> None:
    files = {
        "db/failover.md": (
            "# Failover\n\n## Check the replicas\n\n"
            "[ok](lag.md#diagnosis) [ok2](#check-the-replicas) [ok3](lag.md#snippet-q)\n"
            "[missing](lags.md)\n"
            "[anchor](lag.md#diagnosys)\n"
            "[here](#check-replicas)\n"
            "![img](img/missing.png) [readme](../README.md) [up](../../outside.md)\n"
        ),
        "db/lag.md": "# Lag\n\n## Diagnosis\n\n```sql {#q}\nSELECT 1;\n```\n",
        "README.md": "# Group\n",
    }
    lines = [x for x in lint(tmp_path, files) if x.endswith("[link-broken]")]
    assert lines == [
        "db/failover.md:6: warning: link 'lags.md' leads to no runbook (db/lags.md does not "
        "exist); did you mean lag.md? [link-broken]",
        "db/failover.md:7: warning: link 'lag.md#diagnosys': db/lag.md has no anchor "
        "#diagnosys: did you mean #diagnosis? [link-broken]",
        "db/failover.md:8: warning: link '#check-replicas': this page has no anchor "
        "#check-replicas: did you mean #check-the-replicas? [link-broken]",
        "db/failover.md:9: warning: link 'img/missing.png' leads to db/img/missing.png, which "
        "does not exist: fix the path [link-broken]",
    ]


# A broken front matter no longer hides the body's problems.


def test_broken_front_matter_still_checks_the_body(tmp_path: Path) -> None:
    text = "---\ntitle: [unclosed\n---\n# T\n\n```bahs\nls\n```\n\n```bash\nif true; then\n```\n"
    lines = lint(tmp_path, {"a.md": text})
    assert codes(lines) == ["front-matter-invalid", "language-near-miss", "bash-syntax"]
    assert [x.split(":")[1] for x in lines] == ["3", "6", "11"]


def test_broken_front_matter_is_never_released(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\ntitle: [unclosed\n---\n# T\n", encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert catalog.runbooks == () and [r.slug for r in catalog.broken] == ["a"]


# bash -n: the line that opened the unclosed construct


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("echo start\nif true; then\n  echo a\necho b", 5, "add the missing `fi`"),
        ("echo start\nfor x in a b; do\n  echo $x", 5, "add the missing `done`"),
        ('echo ok\necho "abc\necho d', 5, "the quote opened on this line is never closed"),
    ],
)
def test_bash_syntax_points_at_the_opener(
    tmp_path: Path, body: str, line: int, needle: str
) -> None:
    found = one(lint(tmp_path, {"a.md": f"# T\n\n```bash\n{body}\n```\n"}), "bash-syntax")
    assert found.startswith(f"a.md:{line}: warning: ") and needle in found


def test_indented_heredoc_terminator_gets_a_hint(tmp_path: Path) -> None:
    text = "# T\n\n```bash\ncat <<EOF\n  a\n  EOF\n```\n"
    found = one(lint(tmp_path, {"a.md": text}), "heredoc-unterminated")
    assert found.startswith("a.md:4: warning: ")
    assert "the line '  EOF' is indented: start it at column 1, or write <<-EOF" in found


def test_console_heredoc_reported_once_with_the_hint(tmp_path: Path) -> None:
    text = "# T\n\n```console\n$ cat <<A <<B\n> x\n>   A\n```\n"
    found = one(lint(tmp_path, {"a.md": text}), "heredoc-unterminated")
    assert found.startswith("a.md:4: warning: ")
    assert "'A' then 'B'" in found and "the line '  A' is indented" in found


# What runbooks/README.md promises


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ("ping db-1", "ping-no-count"),
        ("sudo ping -i 1 db-1", "ping-no-count"),
        ("openssl s_client -connect web:443 -servername web", "openssl-stdin"),
        ("journalctl -u kubelet --since -1h", "journalctl-pager"),
        ("export API_TOKEN=s3cr3t-value", "secret-literal"),
        ('DB_PASSWORD="hunter2" psql', "secret-literal"),
    ],
)
def test_commands_that_wait_or_leak(tmp_path: Path, command: str, code: str) -> None:
    found = one(lint(tmp_path, {"a.md": f"# T\n\n```bash\necho\n{command}\n```\n"}), code)
    assert found.startswith("a.md:5: warning: ")


@pytest.mark.parametrize(
    "command",
    [
        "ping -c 3 db-1",
        "ping -w 5 db-1",
        "openssl s_client -connect web:443 </dev/null",
        "echo | openssl s_client -connect web:443",
        "journalctl -u kubelet --no-pager",
        "journalctl -u kubelet | tail",
        "journalctl --vacuum-size=500M",
        'export API_TOKEN="$(vault read -field=token secret/x)"',
        'export API_TOKEN="${API_TOKEN:?}"',
        "echo 'ping db-1'",
    ],
)
def test_commands_done_right_are_quiet(tmp_path: Path, command: str) -> None:
    assert lint(tmp_path, {"a.md": f"# T\n\n```bash\n{command}\n```\n"}) == []


# The docs and the sample catalog


def test_every_intent_code_is_documented() -> None:
    doc = (REPO / "docs" / "runbook-format.md").read_text(encoding="utf-8")
    table = doc.split("## Problem codes", 1)[1]
    documented = set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))
    assert set(CODES) <= documented


def test_sample_catalog_is_clean_under_every_rule() -> None:
    done = run_cli("sealbook", "check", "--runbooks", str(REPO / "runbooks"))
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1].endswith(": 0 errors, 0 warnings"), done.stdout


# A catalog makes the warnings it chooses errors


def test_a_catalog_can_make_warnings_errors(tmp_path: Path) -> None:
    (tmp_path / "catalog.toml").write_text('errors = ["ping-no-count", "link-broken"]\n')
    text = "# T\n\n[x](missing.md)\n\n```bash\nping db-1\njournalctl -u x\n```\n"
    lines = lint(tmp_path, {"a.md": text})
    assert [(x.split(": ")[1], x.rsplit("[", 1)[1]) for x in lines] == [
        ("error", "link-broken]"),
        ("error", "ping-no-count]"),
        ("warning", "journalctl-pager]"),
    ]
    done = run_cli("sealbook", "check", "--runbooks", str(tmp_path))
    assert done.returncode == 1 and done.stdout.splitlines()[-1].endswith("2 errors, 1 warning")


@pytest.mark.parametrize("setting", ['errors = ["bash-syntax"]', 'errors = "ping-no-count"'])
def test_unknown_or_malformed_errors_setting_fails_closed(tmp_path: Path, setting: str) -> None:
    (tmp_path / "catalog.toml").write_text(setting + "\n")
    lines = lint(tmp_path, {"a.md": "# T\n\n```bash\nping db-1\n```\n"})
    assert "catalog-settings-invalid" in codes(lines)
    assert one(lines, "ping-no-count").split(": ")[1] == "error"  # the strictest reading
