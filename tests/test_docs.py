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


def test_every_doc_path_the_code_names_exists() -> None:
    """Messages and docstrings send users to docs/...md (and #anchors): each must exist."""
    named = set()
    for folder in ("builder", "verifier", "site-template"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".html"):
                text = path.read_text(encoding="utf-8")
                named |= set(re.findall(r"docs/[A-Za-z0-9_./-]+\.md(?:#[a-z0-9-]+)?", text))
    assert named
    missing = []
    for ref in sorted(named):
        doc, _, anchor = ref.partition("#")
        if not (REPO / doc).is_file():
            missing.append(ref)
            continue
        headings = re.findall(r"^#+ (.+)$", (REPO / doc).read_text(encoding="utf-8"), re.M)
        slugs = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}
        if anchor and anchor not in slugs:
            missing.append(ref)
    assert missing == []
