"""The runbook parser: front matter, titles, fences, ids, console reduction, the catalog walk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder.console import heredoc_terminators, reduce_console
from builder.frontmatter import FrontMatterError, normalise
from builder.runbook import (
    Catalog,
    Problem,
    SourceRunbook,
    heading_id,
    load_catalog,
    parse_runbook,
)
from verifier.errors import InputError


def parse(text: str, slug: str = "db/failover") -> tuple[SourceRunbook, list[Problem]]:
    runbook, problems = parse_runbook(slug, text.encode("utf-8"), f"{slug}.md")
    assert runbook is not None, problems
    return runbook, problems


def codes(problems: list[Problem] | tuple[Problem, ...]) -> list[str]:
    return [p.code for p in problems]


def refused(source: bytes) -> list[Problem]:
    runbook, problems = parse_runbook("x", source, "x.md")
    assert runbook is None or runbook.broken is not None
    return problems


# --- front matter -------------------------------------------------------------------------


def test_yaml_front_matter_known_and_unknown_keys() -> None:
    runbook, problems = parse(
        "---\ntitle: Failover\nservice: postgres\nowners: dba\ntags: [db, ha]\n"
        "alerts: PostgresDown\nescalation: {after_minutes: 15}\n---\n\nText.\n"
    )
    assert problems == []
    assert runbook.title == "Failover"
    assert runbook.metadata == {
        "title": "Failover",
        "service": "postgres",
        "owners": ["dba"],
        "tags": ["db", "ha"],
        "alerts": ["PostgresDown"],
        "escalation": {"after_minutes": 15},
    }


def test_toml_front_matter() -> None:
    runbook, problems = parse('+++\ntitle = "Disk full"\ntags = "disk"\n+++\nText.\n')
    assert problems == []
    assert runbook.title == "Disk full"
    assert runbook.metadata == {"title": "Disk full", "tags": ["disk"]}


def test_dates_become_iso_strings() -> None:
    runbook, _ = parse(
        "---\nreviewed: 2026-08-20\nnaive: 2026-08-20 10:00:00\n"
        "aware: 2026-08-20T12:00:00+02:00\n---\nText.\n"
    )
    assert runbook.metadata == {
        "reviewed": "2026-08-20",
        "naive": "2026-08-20T10:00:00",
        "aware": "2026-08-20T10:00:00Z",
    }


def test_toml_datetime_and_time() -> None:
    runbook, _ = parse("+++\nat = 2026-01-02T03:04:05-01:00\nt = 07:30:00\n+++\nText.\n")
    assert runbook.metadata == {"at": "2026-01-02T04:04:05Z", "t": "07:30:00"}


def test_non_string_keys_become_strings_and_numbers_in_string_fields() -> None:
    runbook, _ = parse("---\n2: two\nfalse: no\n~: nil\n2026-01-02: d\nseverity: 2\n---\nT.\n")
    assert runbook.metadata == {
        "2": "two",
        "false": False,
        "null": "nil",
        "2026-01-02": "d",
        "severity": "2",
    }


def test_normalise_tuples_and_nested_values() -> None:
    assert normalise({"a": (1, (2, "x")), 3: {"b": None}}) == {
        "a": [1, [2, "x"]],
        "3": {"b": None},
    }
    with pytest.raises(FrontMatterError):
        normalise({"a": object()})


def test_yaml_document_end_marker_closes_front_matter() -> None:
    runbook, problems = parse("---\ntitle: T\n...\n---\nText.\n")
    assert problems == []
    assert runbook.title == "T"


@pytest.mark.parametrize(
    "front",
    [
        "blob: !!binary aGVsbG8=",
        "s: !!set {a, b}",
        "x: .nan",
        "big: 9007199254740993",
        "title: [a, b]",
        "tags: [1, 2]",
        "obj: !!python/object:os.system {}",
        "- just\n- a list",
        "key: [unclosed",
        "a: 1\n'a': 2",
    ],
)
def test_bad_front_matter_is_refused(front: str) -> None:
    problems = refused(f"---\n{front}\n---\nText.\n".encode())
    assert codes(problems) == ["front-matter-invalid"]


def test_front_matter_parse_error_names_its_line() -> None:
    problems = refused(b"---\ntitle: ok\nbad: [1,\n---\nText.\n")
    assert problems[0].line in (3, 4)
    problems = refused(b'+++\ntitle = "ok"\nbad =\n+++\nText.\n')
    assert problems[0].line == 3


def test_unclosed_front_matter() -> None:
    assert "never closed" in refused(b"---\ntitle: x\n\n# Heading\n")[0].message


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    problems = refused(("---\n" + "\n".join(lines) + "\n---\nText.\n").encode())
    assert "more than" in problems[0].message


def test_too_many_anchors_is_refused() -> None:
    body = "\n".join(f"k{i}: &x{i} v" for i in range(101))
    problems = refused(f"---\n{body}\n---\nText.\n".encode())
    assert "anchors" in problems[0].message


def test_front_matter_size_cap() -> None:
    body = "k: " + "x" * (65 * 1024)
    assert "KiB" in refused(f"---\n{body}\n---\nText.\n".encode())[0].message


# --- titles and emptiness --------------------------------------------------------------------


def test_title_falls_back_to_h1_then_file_name() -> None:
    assert parse("Intro\n\n# Restart *api*  ##\n")[0].title == "Restart *api*"
    assert parse("Intro\n===\n\ntext\n")[0].title == "Intro"
    assert parse("Some text only.\n", slug="kubernetes/KubePodCrashLooping")[0].title == (
        "KubePodCrashLooping"
    )
    assert parse("---\ntitle: ''\n---\n# From H1\ntext\n")[0].title == "From H1"


@pytest.mark.parametrize("text", ["", "---\ntitle: x\n---\n", "# Only a title\n\n", "T\n===\n"])
def test_empty_runbook_is_an_error(text: str) -> None:
    assert codes(parse(text)[1]) == ["runbook-empty"]


def test_runbook_with_only_prose_is_not_empty() -> None:
    assert parse("# Title\n\nCall the DBA.\n")[1] == []


# --- fences -------------------------------------------------------------------------------


def test_fences_backtick_tilde_indented_and_longer() -> None:
    text = (
        "# A\n\n```bash\necho 1\n```\n\n~~~~sh\necho 2\n~~~\nstill\n~~~~\n\n"
        "1. step\n\n   ```bash\n   echo 3\n     echo 4\n   ```\n\n````text\n```\nnested\n```\n````\n"
    )
    runbook, problems = parse(text)
    assert problems == []
    assert [s.text for s in runbook.snippets] == [
        "echo 1\n",
        "echo 2\n~~~\nstill\n",
        "echo 3\n  echo 4\n",
        "```\nnested\n```\n",
    ]
    assert [s.line for s in runbook.snippets] == [3, 7, 15, 20]


def test_inline_triple_backticks_are_not_a_fence() -> None:
    runbook, _ = parse("# A\n\n```not a fence``` here\n\n```bash\necho\n```\n")
    assert len(runbook.snippets) == 1


def test_unclosed_fence_is_an_error() -> None:
    runbook, problems = parse("# A\n\n```bash\necho hi\n")
    assert codes(problems) == ["fence-unclosed"]
    assert problems[0].line == 3
    assert runbook.snippets[0].text == "echo hi\n"


def test_raw_keeps_line_endings_text_is_signed_text() -> None:
    runbook, _ = parse("# A\r\n\r\n```bash\r\necho a\r\necho b\r\n```\r\n")
    snippet = runbook.snippets[0]
    assert snippet.raw == "echo a\necho b\n"  # CommonMark normalises line endings
    assert snippet.text == "echo a\necho b\n"
    assert snippet.line == 3


def test_language_and_executable() -> None:
    text = "# A\n" + "".join(
        f"```{lang}\nx\n```\n" for lang in ["BASH", "sh", "shell", "zsh", "promql", "", "{#x}"]
    )
    snippets = parse(text)[0].snippets
    assert [s.language for s in snippets] == [
        "bash",
        "sh",
        "shell",
        "zsh",
        "promql",
        "text",
        "text",
    ]
    assert [s.executable for s in snippets] == [True, True, True, False, False, False, False]


def test_runbook_source_kept_exactly() -> None:
    source = b"# A\n\n```bash\necho\n```\n"
    runbook, _ = parse_runbook("a", source, "a.md")
    assert runbook is not None
    assert runbook.source == source


# --- ids and attributes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "info",
    [
        "bash {#restart-primary}",
        "bash { name=restart-primary }",
        'bash {"name":"restart-primary","interactive":false}',
        "bash {name=restart-primary interactive=false closeTerminalOnSuccess=false}",
        "bash title='x #y' {#restart-primary}",
    ],
)
def test_explicit_ids(info: str) -> None:
    runbook, _ = parse(f"# A\n\n```{info}\necho\n```\n")
    assert runbook.snippets[0].id == "restart-primary"


def test_derived_ids_from_headings_with_repeats() -> None:
    text = (
        "```bash\necho 0\n```\n# Restart the `API`, now!\n```bash\necho 1\n```\n"
        "```bash\necho 2\n```\n## Diagnosis\n```promql\nup\n```\nDiagnosis\n---\n"
        "```promql\nup\n```\n"
    )
    ids = [s.id for s in parse(text)[0].snippets]
    assert ids == [
        "snippet",
        "restart-the-api-now",
        "restart-the-api-now-2",
        "diagnosis",
        "diagnosis-2",
    ]


def test_derived_ids_skip_explicit_ones() -> None:
    text = (
        "# Check\n```bash\necho\n```\n```bash {#check-2}\necho\n```\n```bash {#check}\necho\n```\n"
    )
    ids = [s.id for s in parse(text)[0].snippets]
    assert ids == ["check-3", "check-2", "check"]


def test_heading_id_rules() -> None:
    assert heading_id("  Élan -- vital  ") == "lan-vital"
    assert heading_id("日本") == "snippet"
    assert heading_id(None) == "snippet"
    assert len(heading_id("a" * 500)) == 100


@pytest.mark.parametrize(
    ("info", "params"),
    [
        ('bash params="NAMESPACE POD"', ("NAMESPACE", "POD")),
        ("bash {#x params=POD,NAMESPACE,POD}", ("NAMESPACE", "POD")),
        ('bash {"name": "x", "params": ["B", "A"]}', ("A", "B")),
        ("bash", ()),
    ],
)
def test_params(info: str, params: tuple[str, ...]) -> None:
    assert parse(f"# A\n```{info}\necho\n```\n")[0].snippets[0].params == params


@pytest.mark.parametrize(
    ("info", "allowed"),
    [
        ("bash allow-non-ascii", True),
        ("bash {#x allow_non_ascii=true}", True),
        ("bash {#x allow-non-ascii=false}", False),
        ('bash {"allow_non_ascii": true}', True),
        ("bash", False),
    ],
)
def test_allow_non_ascii_opt_in(info: str, allowed: bool) -> None:
    assert parse(f"# A\n```{info}\necho\n```\n")[0].snippets[0].allow_non_ascii is allowed


# --- console transcripts ----------------------------------------------------------------------


def test_console_keeps_commands_only() -> None:
    text = (
        "# A\n```console\n$ kubectl get pods \\\n    -n prod\nNAME READY\napi 1/1\n$\n"
        "$ for i in 1 2; do\n> echo $i\n> done\n1\n2\n```\n"
    )
    snippet = parse(text)[0].snippets[0]
    assert snippet.executable
    assert snippet.text == "kubectl get pods \\\n    -n prod\n\nfor i in 1 2; do\necho $i\ndone\n"
    assert "NAME READY" in snippet.raw


@pytest.mark.parametrize("opener", ["<<EOF", "<<-EOF", "<<'EOF'", '<< "EOF"'])
def test_console_heredoc_bodies_kept(opener: str) -> None:
    lines = [f"$ psql {opener}", "SELECT 1;", "\tEOF" if "-" in opener else "EOF", "output"]
    assert reduce_console(lines).text == "\n".join([lines[0][2:], *lines[1:3]])


def test_console_heredoc_with_ps2_prompts() -> None:
    reduction = reduce_console(["$ cat <<EOF", "> a", "> EOF", "a"])
    assert reduction.text == "cat <<EOF\na\nEOF"


def test_console_unterminated_heredoc_is_decided_when_the_catalog_loads() -> None:
    """The parser leaves it to `builder.runnable`, which makes the block reference."""
    from builder.runnable import reasons

    runbook, problems = parse("# A\n```console\n$ cat <<EOF\nbody\n```\n")
    assert codes(problems) == []
    assert runbook is not None
    assert [r.code for r in reasons(runbook.snippets[0])] == ["heredoc-unterminated"]


def test_console_without_prompt_is_reference() -> None:
    snippet = parse("# A\n```console\nrm -rf /tmp/x\n```\n")[0].snippets[0]
    assert not snippet.executable
    assert snippet.text == "rm -rf /tmp/x\n"


def test_console_root_prompt_warns() -> None:
    runbook, problems = parse("# A\n```shell-session\n# systemctl restart x\n$ id\n```\n")
    assert [(p.code, p.severity, p.line) for p in problems] == [
        ("console-root-prompt", "warning", 3)
    ]
    assert runbook.snippets[0].text == "id\n"


def test_heredoc_detection_heuristic() -> None:
    assert heredoc_terminators("cat <<EOF | grep x <<-'END'") == [("EOF", False), ("END", True)]
    assert heredoc_terminators("echo '<<EOF' \"<<X\" # <<Y") == []
    assert heredoc_terminators('grep x <<< "$v"; echo $((1<<2))') == []


# --- Problem ---------------------------------------------------------------------------------


def test_problem_str_is_one_safe_line() -> None:
    problem = Problem("a.md", 3, "error", "x-code", "bad\nforged\u202eline")
    assert str(problem) == "a.md:3: error: bad<U+000A>forged<U+202E>line [x-code]"


# --- bytes and the catalog --------------------------------------------------------------------


def test_binary_non_utf8_and_too_large_files() -> None:
    assert codes(refused(b"# A\n\x00")) == ["file-binary"]
    problems = refused(b"# A\nok\n\xff\n")
    assert codes(problems) == ["file-not-utf8"]
    assert problems[0].line == 3
    assert codes(refused(b"a" * (1024 * 1024 + 1))) == ["file-too-large"]


def write(root: Path, rel: str, text: str = "# T\n\ntext\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_catalog_walk_slugs_and_group_files(tmp_path: Path) -> None:
    for rel in [
        "db/failover.md",
        "kubernetes/KubePodCrashLooping.md",
        "a.md",
        "db/_index.md",
        "index.md",
        "README.md",
        "notes.txt",
        ".hidden/x.md",
        "db/.draft.md",
    ]:
        write(tmp_path, rel)
    catalog = load_catalog(tmp_path)
    assert isinstance(catalog, Catalog)
    assert [r.slug for r in catalog.runbooks] == [
        "a",
        "db/failover",
        "kubernetes/KubePodCrashLooping",
    ]
    assert catalog.problems == ()
    assert catalog.runbooks[1].path == str(tmp_path / "db" / "failover.md")


def test_catalog_refuses_symlink_outside(tmp_path: Path) -> None:
    outside = write(tmp_path, "outside/secret.md")
    root = tmp_path / "runbooks"
    write(root, "ok.md")
    (root / "link.md").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent)
    write(root, "inner/target.md")
    (root / "inside.md").symlink_to(root / "inner" / "target.md")
    catalog = load_catalog(root)
    assert sorted(codes(catalog.problems)) == ["symlink-outside", "symlink-outside"]
    assert [r.slug for r in catalog.runbooks] == ["inner/target", "inside", "ok"]


def test_catalog_file_level_problems(tmp_path: Path) -> None:
    (tmp_path / "bin.md").write_bytes(b"\x00\x01")
    (tmp_path / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "big.md").write_bytes(b"x" * (1024 * 1024 + 5))
    catalog = load_catalog(tmp_path)
    assert catalog.runbooks == ()
    assert codes(catalog.problems) == ["file-too-large", "file-binary", "file-not-utf8"]


def test_catalog_refuses_non_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.md")  # reading it would block forever
    problems = load_catalog(tmp_path).problems
    assert [(p.code, p.message) for p in problems] == [("file-unreadable", "not a regular file")]


def test_catalog_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads everything")
    path = write(tmp_path, "locked.md")
    path.chmod(0)
    assert codes(load_catalog(tmp_path).problems) == ["file-unreadable"]


def test_catalog_missing_root(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_catalog(tmp_path / "nope")
    write(tmp_path, "file.md")
    with pytest.raises(InputError):
        load_catalog(tmp_path / "file.md")


# --- never raises ------------------------------------------------------------------------------

_MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "---",
            "+++",
            "```",
            "~~~",
            "```console",
            "```bash {#x}",
            "$ cat <<EOF",
            "EOF",
            "> a",
            "# H",
            "===",
            "title: [",
            "a = 1",
            "$ echo \\",
            "\r",
            "\x00",
            "\u202e",
            "<<'E'",
        ]
    )
    | st.text(max_size=20),
    max_size=30,
).map("\n".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.binary(max_size=500), _MARKDOWNISH.map(lambda s: s.encode("utf-8", "replace"))))
def test_parse_runbook_never_raises(source: bytes) -> None:
    runbook, problems = parse_runbook("fuzz/x", source, "fuzz/x.md")
    assert runbook is not None or problems
    assert all(isinstance(p, Problem) for p in problems)
    if runbook is not None:
        assert all(s.text.endswith("\n") for s in runbook.snippets)


def test_body_start_without_parsing_agrees_with_the_parser() -> None:
    from builder.frontmatter import body_start, read_front_matter
    from tests.conftest import REPO

    for path in sorted((REPO / "runbooks").rglob("*.md")):
        lines = [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8").splitlines()]
        assert body_start(lines) == read_front_matter(lines).body_start, path
    assert body_start(["---", "title: x", "no end"]) == 0
    assert body_start(["+++", 'title = "x"', "+++", "# Body"]) == 3
