"""Real runbook collections (../shared/corpora) adopted unchanged: released, built, proven.

Two public collections written by their teams for their own incidents (see PROVENANCE.md
there). Each is copied to a temporary folder, checked, released with the dev instance,
built into a site and verified by reproduction, with nothing edited. The test prints what
sealbook made of it: runbooks, snippets (executable / reference), warnings by kind.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
from pathlib import Path

import pytest

from builder.markdown import parse
from builder.runbook import load_catalog, split_lines
from builder.runnable import bash_n
from tests.conftest import FIXTURES, require_shared, run_cli

SHARED = Path(FIXTURES).parent.parent  # ../shared beside the clone, as the Sigstore fixtures
CORPORA = {
    "gitlab-com": SHARED / "corpora/gitlab-com/docs",
    "stolostron": SHARED / "corpora/stolostron",
}
PROMPT = re.compile(r"^(?:\$|❯) ")
PLACEHOLDER = re.compile(r"<[A-Za-z][A-Za-z0-9_.:-]*>")


@pytest.fixture(scope="module", params=sorted(CORPORA))
def corpus(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_shared(CORPORA[request.param], "real runbook corpora")
    folder = tmp_path_factory.mktemp(request.param) / "runbooks"
    shutil.copytree(CORPORA[request.param], folder)
    return folder


@pytest.mark.slow
def test_collection_releases_unchanged_builds_and_verifies(corpus: Path) -> None:
    from builder.devinstance import DevInstance
    from builder.release import make_release
    from builder.sign import SigningTarget

    work = corpus.parent
    check = run_cli("sealbook", "check", "--runbooks", str(corpus), "--format", "json")
    assert check.returncode == 0, check.stdout[-2000:]
    kinds = collections.Counter(p["code"] for p in json.loads(check.stdout)["problems"])
    catalog = load_catalog(corpus)
    with DevInstance(work / "dev") as dev:
        make_release(
            catalog, "1.0", work / "releases", SigningTarget(instance="dev", dev_state=work / "dev")
        )
        policy = dev.policy_path
    build = run_cli(
        "sealbook", "build", "--releases", str(work / "releases"), "--out", str(work / "site"),
        "--policy", str(policy), "--cache-dir", str(work / "cache"), timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    verify = run_cli(
        "sealbook-verify", "site", str(work / "site"), "--policy", str(policy), timeout=300
    )
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr
    snippets = [s for rb in catalog.runbooks for s in rb.snippets]
    executable = sum(s.executable for s in snippets)
    alerts = list((work / "site" / "alerts").glob("*.html"))
    print(
        f"\n{corpus.parent.name}: {len(catalog.runbooks)} runbooks, {len(snippets)} snippets "
        f"({executable} executable, {len(snippets) - executable} reference), "
        f"{len(alerts)} alert pages; warnings: {dict(sorted(kinds.items()))}"
    )


def test_every_executable_snippet_runs_as_signed(corpus: Path) -> None:
    """No prompt, no pasted output, no undeclared placeholder; passes bash -n."""
    bad = []
    for runbook in load_catalog(corpus).runbooks:
        for s in runbook.snippets:
            if not s.executable:
                continue
            lines = s.text.splitlines()
            where = f"{runbook.slug}#{s.id}"
            if any(PROMPT.match(line) for line in lines):
                bad.append(f"{where}: a prompt line")
            undeclared = {
                m.group(0)[1:-1]
                for line in lines
                for m in PLACEHOLDER.finditer(line.split(" #", 1)[0])
            } - set(s.params)
            if undeclared:
                bad.append(f"{where}: placeholders {sorted(undeclared)}")
            if bash_n(s.text)[0] != 0:
                bad.append(f"{where}: bash -n fails")
    assert bad == []


def test_signed_fences_are_exactly_the_commonmark_fences(corpus: Path) -> None:
    """Per runbook: the snippets sealbook signs are markdown-it-py's fence tokens, one for one."""
    from builder.frontmatter import read_front_matter

    for runbook in load_catalog(corpus).runbooks:
        parts = split_lines(runbook.source.decode("utf-8"))
        start = read_front_matter([p.rstrip("\r\n") for p in parts]).body_start
        fences = [t for t in parse("".join(parts[start:])) if t.type == "fence"]
        signed = [(s.line, s.raw) for s in runbook.snippets]
        assert signed == [(start + t.map[0] + 1, t.content) for t in fences if t.map], runbook.slug
        for s, t in zip(runbook.snippets, fences, strict=True):
            assert parts[s.line - 1].strip().startswith(t.markup), runbook.slug
