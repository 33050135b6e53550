"""Docs that are generated from code stay equal to it; the README's quick start stays two commands."""

from __future__ import annotations

import re

from tests.conftest import REPO
from verifier.reasons import markdown_table


def test_reason_code_doc_matches_table() -> None:
    assert (REPO / "docs/reason-codes.md").read_text(encoding="utf-8") == markdown_table(), (
        "run: python -m verifier.reasons > docs/reason-codes.md"
    )


def test_readme_quick_start_is_two_marked_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for marker in ("<!-- ci:setup -->", "<!-- ci:tests -->"):
        block = re.search(re.escape(marker) + r"\n```sh\n(.+?)\n```", readme, re.S)
        assert block is not None and "\n" not in block.group(1).strip(), marker
