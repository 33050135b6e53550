"""`check_catalog`: slugs, ids, params, the Trojan Source guard and `bash -n`."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.lint import check_catalog, comment_start, danger, visible
from builder.runbook import Catalog, Problem, load_catalog, parse_runbook
from builder.runnable import classify


def check(text: str, slug: str = "db/failover", *, strict: bool = False) -> list[Problem]:
    """Problems of one runbook, decided runnable or reference as `load_catalog` does."""
    runbook, problems = parse_runbook(slug, text.encode("utf-8"), f"{slug}.md")
    assert runbook is not None, problems
    catalog = classify(Catalog(Path("."), (runbook,), tuple(problems)), require_runnable=strict)
    return check_catalog(catalog)


def found(problems: list[Problem]) -> list[tuple[str, str, int]]:
    return [(p.code, p.severity, p.line) for p in problems]


def block(info: str, body: str) -> str:
    return f"# Title\n\n```{info}\n{body}\n```\n"  # the body starts on line 4


def test_clean_runbook_has_no_problems() -> None:
    text = block("bash {#a params=NS}", 'kubectl -n "${NS:?}" get pods  # list them')
    assert check(text) == []


def test_sample_catalog_is_clean() -> None:
    catalog = load_catalog(Path(__file__).resolve().parent.parent / "runbooks")
    assert [str(p) for p in check_catalog(catalog) if p.severity == "error"] == []


# --- slugs, ids, params -----------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["db/fail over", "..x", "db/-x", "café"])
def test_invalid_slug(slug: str) -> None:
    assert found(check("# T\ntext\n", slug=slug)) == [("slug-invalid", "error", 1)]


def test_slug_with_bidi_control() -> None:
    problems = check("# T\ntext\n", slug="db/\u202efail")
    assert found(problems) == [("bidi-control", "error", 1)]
    assert "<U+202E>" in problems[0].message


def test_slugs_differing_only_in_case(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "Failover.md").write_text("# T\ntext\n")
    (tmp_path / "db" / "failover.md").write_text("# T\ntext\n")
    problems = check_catalog(load_catalog(tmp_path))
    assert [p.code for p in problems] == ["slug-case-collision"]
    assert problems[0].path.endswith("failover.md")


def test_duplicate_explicit_ids() -> None:
    text = "# T\n```bash {#x}\necho\n```\n```sql {#x}\nselect\n```\n"
    problems = check(text)
    assert found(problems) == [("id-duplicate", "error", 5)]
    assert "line 2" in problems[0].message


@pytest.mark.parametrize("info", ["bash {#..x}", "bash {#-x}", "bash {name=a/b}", "bash {#é}"])
def test_invalid_explicit_id(info: str) -> None:
    assert ("id-invalid", "error", 3) in found(check(block(info, "echo")))


def test_id_with_invisible_character() -> None:
    assert found(check(block("bash {#a\u200bb}", "echo"))) == [("invisible-character", "error", 3)]


def test_invalid_params() -> None:
    problems = check(block('bash params="NS lower 9X"', 'echo "${NS:?}"'))
    assert found(problems) == [("params-invalid", "error", 3)]
    assert "9X lower" in problems[0].message


# --- Trojan Source ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("char", "code"),
    [
        ("\u202e", "bidi-control"),
        ("\u2066", "bidi-control"),
        ("\u200f", "bidi-control"),
        ("\u061c", "bidi-control"),
        ("\u200b", "invisible-character"),
        ("\u2060", "invisible-character"),
        ("\ufeff", "invisible-character"),
        ("\u00ad", "invisible-character"),
        ("\U000e0041", "invisible-character"),
        ("\U000e0100", "invisible-character"),
        ("\u2028", "invisible-character"),
        ("\x1b", "control-character"),
    ],
)
def test_dangerous_characters_make_a_block_reference_even_with_opt_in(char: str, code: str) -> None:
    """Never run, whatever the opt-in; a warning (the page marks the character); an error when
    the catalog demands runnable blocks. Bidi controls are errors everywhere (test below)."""
    for info in ("bash", "text", "bash allow-non-ascii"):
        problems = [p for p in check(block(info, f"echo ok\necho 'a{char}b'")) if p.code == code]
        assert found(problems) == [(code, "error" if code == "bidi-control" else "warning", 5)]
        assert f"<U+{ord(char):04X}>" in problems[0].message
        strict = [p for p in check(block(info, f"echo ok\necho 'a{char}b'"), strict=True)]
        if info.startswith("bash"):
            assert (code, "error", 5) in found(strict)


def test_bidi_in_console_output_is_an_error() -> None:
    assert found(check(block("console", "$ ls\nfile\u202e.txt"))) == [("bidi-control", "error", 5)]


def test_non_ascii_in_code_makes_the_block_reference() -> None:
    problems = check(block("bash", "echo ok\nrm -rf /tmp/caf\u00e9"))
    assert ("non-ascii-code", "warning", 5) in found(problems)
    assert ("non-ascii-code", "error", 5) in found(
        check(block("bash", "echo ok\nrm -rf /tmp/caf\u00e9"), strict=True)
    )


def test_non_ascii_in_shell_comment_is_a_warning() -> None:
    problems = check(block("bash", "echo ok # caf\u00e9\n# \u00fcber\necho '#' ok"))
    assert found(problems) == [("non-ascii-comment", "warning", 4)]
    assert "and 1 more line" in problems[0].message


def test_non_ascii_in_reference_block_is_a_warning() -> None:
    assert found(check(block("yaml", "name: caf\u00e9"))) == [("non-ascii-reference", "warning", 4)]


def test_non_ascii_in_console_output_is_fine_but_not_in_commands() -> None:
    assert check(block("console", "$ ls\ncaf\u00e9.txt")) == []
    assert ("non-ascii-code", "error", 5) in found(
        check(block("console", "output\n$ cat caf\u00e9.txt"), strict=True)
    )


def test_allow_non_ascii_opt_in_silences_non_ascii() -> None:
    assert check(block("bash allow-non-ascii", "echo caf\u00e9")) == []
    assert check(block("yaml {allow_non_ascii=true}", "name: caf\u00e9")) == []


def test_character_helpers() -> None:
    assert danger("a") is None
    assert danger("\u00e9") is None
    assert danger("\t") is None
    assert danger("\ufe0f") is None  # follows emoji: plain non-ASCII
    assert visible("a\u202eb\tc\u00e9") == "a<U+202E>b\\tc<U+00E9>"
    assert comment_start("echo 'a # b' \"#\" x#y # z") == len("echo 'a # b' \"#\" x#y ")
    assert comment_start("echo \\# x") == len("echo \\# x")


# --- bash -n -------------------------------------------------------------------------------------


def test_bash_syntax_error_line_mapped_to_file() -> None:
    problems = check(block("bash", "echo ok\nif true; then\n  echo x\nfi fi )"), strict=True)
    assert found(problems) == [("bash-syntax", "error", 7)]
    assert "unexpected token" in problems[0].message


def test_bash_syntax_error_in_console_maps_through_output() -> None:
    body = "$ echo ok\nok\nsome output\n$ echo (\n"
    assert found(check(block("console", body), strict=True)) == [("bash-syntax", "error", 7)]
    assert found(check(block("console", body))) == [("bash-syntax", "warning", 7)]


def test_bash_unterminated_heredoc_in_bash_block_is_an_error() -> None:
    assert [p.code for p in check(block("sh", "cat <<EOF\nhello"), strict=True)] == [
        "heredoc-unterminated"
    ]


def test_bash_not_run_on_reference_blocks() -> None:
    assert check(block("zsh", "if then fi (")) == []
    assert [p.code for p in check(block("console", "if then fi ("))] == ["console-no-prompt"]


def test_empty_runbook_reported_by_check() -> None:
    assert found(check("---\ntitle: x\n---\n")) == [("runbook-empty", "warning", 1)]


def test_problems_sorted_by_path_and_line(tmp_path: Path) -> None:
    (tmp_path / "b.md").write_text("# T\n```bash\nfi\n```\n```text\n\u202e\n```\n")
    (tmp_path / "a.md").write_text("# T\n```bash\necho caf\u00e9\n```\n")
    problems = check_catalog(load_catalog(tmp_path))
    where = [(Path(p.path).name, p.line) for p in problems]
    assert where == sorted(where) and {name for name, _ in where} == {"a.md", "b.md"}


@pytest.mark.parametrize("word", ["b\u0430sh", '">x', "a" * 33, "sh;rm"])
def test_language_word_outside_the_safe_set_is_a_warning(tmp_path: Path, word: str) -> None:
    (tmp_path / "r.md").write_text(f"# R\n\n```{word}\necho hi\n```\n", encoding="utf-8")
    problems = check_catalog(load_catalog(tmp_path))
    assert any(p.code == "language-invalid" and p.severity == "warning" for p in problems), problems


@pytest.mark.parametrize(
    "word", ["bash", "c++", "objective-c", "shell-session", "f#", "yaml", "promql"]
)
def test_ordinary_language_words_pass(tmp_path: Path, word: str) -> None:
    (tmp_path / "r.md").write_text(f"# R\n\n```{word}\necho hi\n```\n", encoding="utf-8")
    assert not [p for p in check_catalog(load_catalog(tmp_path)) if p.code == "language-invalid"]
