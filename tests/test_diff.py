"""`sealbook diff`: what the next release would sign against the newest one.

The end-to-end tests release the sample catalog with the dev instance, make the scripted edit
(one snippet changed, one renamed, one flipped to reference, a parameter added) and check that
each format prints exactly those changes; the pure tests cover the matching rules.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from builder.diff import diff_manifests, render_markdown, render_text, to_json
from tests.conftest import REPO, run_cli
from verifier.digests import digest
from verifier.manifest import LinkedFile, Manifest, Runbook, Snippet

LAG = "postgres/replication-lag.md"
EDITS = [
    # one snippet changed
    ("psql -X -A -F ' | ' -c \"", "psql -X -A -F ' | ' -d postgres -c \""),
    # one renamed (same text, new id)
    ('{#drop-slot params="SLOT_NAME"}', '{#drop-replication-slot params="SLOT_NAME"}'),
    # one flipped to reference
    ('{#drain-replica params="REPLICA_NAME"}', '{#drain-replica params="REPLICA_NAME" run=false}'),
    # a parameter added
    (
        '{#cancel-blocker params="REPLICA_HOST PID"}',
        '{#cancel-blocker params="REPLICA_HOST PID TIMEOUT"}',
    ),
]


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample catalog released once (1.0.0) by the dev instance; ``runbooks/`` a copy."""
    from builder.release import make_release
    from builder.runbook import load_catalog
    from builder.sign import SigningTarget

    root = tmp_path_factory.mktemp("diff")
    shutil.copytree(REPO / "runbooks", root / "runbooks")
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    make_release(load_catalog(root / "runbooks"), "1.0.0", root / "releases", target)
    return root


def _diff(root: Path, runbooks: Path, fmt: str) -> tuple[int, str, str]:
    done = run_cli(
        "sealbook",
        "diff",
        "--runbooks",
        str(runbooks),
        "--releases",
        str(root / "releases"),
        "--format",
        fmt,
    )
    return done.returncode, done.stdout, done.stderr


def _edited(root: Path, tmp_path: Path) -> Path:
    runbooks = tmp_path / "runbooks"
    shutil.copytree(root / "runbooks", runbooks)
    text = (runbooks / LAG).read_text(encoding="utf-8")
    for old, new in EDITS:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (runbooks / LAG).write_text(text, encoding="utf-8")
    return runbooks


CHECK_LAG_DIFF = [
    "--- check-lag (signed)",
    "+++ check-lag (next)",
    "@@ -1,4 +1,4 @@",
    "-psql -X -A -F ' | ' -c \"",
    "+psql -X -A -F ' | ' -d postgres -c \"",
    " SELECT application_name, client_addr, state, sync_state,",
    "        pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)) AS replay_lag_bytes,",
    "        replay_lag",
]


def test_unchanged_tree_exits_0_and_says_so(released: Path) -> None:
    for fmt in ("text", "markdown", "json"):
        code, out, err = _diff(released, released / "runbooks", fmt)
        assert code == 0, out + err
        assert err == ""
        if fmt == "json":
            doc = json.loads(out)
            assert doc["changed"] is False and doc["runbooks"] == [] and doc["base"] == "1.0.0"
        else:
            assert "no changes" in out.lower(), out


def test_scripted_edit_text(released: Path, tmp_path: Path) -> None:
    code, out, err = _diff(released, _edited(released, tmp_path), "text")
    assert code == 1 and err == ""
    assert out.splitlines() == [
        f"next release of {tmp_path / 'runbooks'} against release 1.0.0: "
        "runbooks 1 changed, 0 added, 0 retired",
        "~ changed postgres/replication-lag: PostgreSQL replication lag high",
        "    snippet check-lag: text changed",
        *(f"      {line}" for line in CHECK_LAG_DIFF),
        "    snippet cancel-blocker: params PID REPLICA_HOST -> PID REPLICA_HOST TIMEOUT",
        "    snippet drain-replica: executable -> reference",
        "    snippet drop-replication-slot: renamed from drop-slot (same text)",
    ]


def test_scripted_edit_markdown(released: Path, tmp_path: Path) -> None:
    code, out, err = _diff(released, _edited(released, tmp_path), "markdown")
    assert code == 1 and err == ""
    assert out.splitlines() == [
        f"### sealbook diff: next release of `{tmp_path / 'runbooks'}` against release `1.0.0`",
        "",
        "runbooks 1 changed, 0 added, 0 retired.",
        "",
        "#### Changed `postgres/replication-lag`: PostgreSQL replication lag high",
        "",
        "- snippet `check-lag`: text changed",
        "  ```diff",
        *(f"  {line}" for line in CHECK_LAG_DIFF),
        "  ```",
        "- snippet `cancel-blocker`: params `PID REPLICA_HOST` -> `PID REPLICA_HOST TIMEOUT`",
        "- snippet `drain-replica`: executable -> reference",
        "- snippet `drop-replication-slot`: renamed from `drop-slot` (same text)",
    ]


def test_scripted_edit_json(released: Path, tmp_path: Path) -> None:
    code, out, err = _diff(released, _edited(released, tmp_path), "json")
    assert code == 1 and err == ""
    doc = json.loads(out)
    assert doc["schema"] == "sealbook.diff-report/v1" and doc["changed"] is True
    assert doc["summary"] == {"added": 0, "changed": 1, "retired": 0, "files": 0}
    assert doc["files"] == [] and doc["check_errors"] == 0
    [runbook] = doc["runbooks"]
    assert (runbook["slug"], runbook["status"]) == ("postgres/replication-lag", "changed")
    assert runbook["front_matter"] == [] and runbook["prose_changed"] is False
    found = {
        s["id"]: {k: v for k, v in s.items() if v not in (None, "") and k != "digest"}
        for s in runbook["snippets"]
    }
    assert found == {
        "check-lag": {
            "id": "check-lag",
            "status": "changed",
            "text_diff": "\n".join(CHECK_LAG_DIFF) + "\n",
        },
        "cancel-blocker": {
            "id": "cancel-blocker",
            "status": "changed",
            "params": {"old": ["PID", "REPLICA_HOST"], "new": ["PID", "REPLICA_HOST", "TIMEOUT"]},
        },
        "drain-replica": {
            "id": "drain-replica",
            "status": "changed",
            "kind": {"old": "executable", "new": "reference"},
        },
        "drop-replication-slot": {
            "id": "drop-replication-slot",
            "status": "renamed",
            "old_id": "drop-slot",
        },
    }


def test_no_release_yet_everything_is_added(tmp_path: Path) -> None:
    code, out, _ = _diff(tmp_path, REPO / "runbooks", "text")
    assert code == 1
    assert out.splitlines()[0].endswith(
        "against no release (none yet): runbooks 0 changed, 15 added, 0 retired"
    )


# Pure: the matching rules on hand-made manifests.


def _snippet(
    sid: str, text: str, *, executable: bool = True, params: tuple[str, ...] = ()
) -> Snippet:
    return Snippet(sid, "bash", executable, 1, params, digest(text.encode()), text)


def _runbook(slug: str, *snippets: Snippet, **metadata: object) -> Runbook:
    body = "".join(s.id + s.text for s in snippets) + json.dumps(metadata)
    return Runbook(
        slug,
        slug.title(),
        dict(metadata),
        f"runbooks/{slug}.md",
        digest(body.encode()),
        1,
        snippets,
    )


def _manifest(*runbooks: Runbook, files: tuple[LinkedFile, ...] = ()) -> Manifest:
    return Manifest("1", "2026-01-01T00:00:00Z", None, None, runbooks, (), files)


def test_added_retired_front_matter_and_files() -> None:
    old = _manifest(
        _runbook("a", _snippet("x", "echo x\n"), severity="high"),
        _runbook("gone"),
        files=(
            LinkedFile("runbooks/img.png", digest(b"1")),
            LinkedFile("runbooks/old.png", digest(b"2")),
        ),
    )
    new = _manifest(
        _runbook("a", _snippet("x", "echo x\n"), severity="critical", alerts=["A"]),
        _runbook("new", _snippet("y", "echo y\n")),
        files=(LinkedFile("runbooks/img.png", digest(b"3")),),
    )
    diff = diff_manifests(old, new)
    assert [(r.slug, r.status) for r in diff.runbooks] == [
        ("a", "changed"),
        ("gone", "retired"),
        ("new", "added"),
    ]
    assert diff.runbooks[0].front_matter == (
        ("alerts", None, ["A"]),
        ("severity", "high", "critical"),
    )
    assert diff.runbooks[0].snippets == ()
    assert [(f.path, f.status) for f in diff.files] == [
        ("runbooks/img.png", "changed"),
        ("runbooks/old.png", "removed"),
    ]
    text = render_text(diff, "rb")
    assert '    front matter severity: "high" -> "critical"' in text
    assert '    front matter alerts: (absent) -> ["A"]' in text
    assert "- retired gone: Gone" in text and "+ added new: New (1 snippets)" in text
    assert to_json(diff)["summary"] == {"added": 1, "changed": 1, "retired": 1, "files": 2}


def test_rename_with_flip_and_removed_added() -> None:
    old = _manifest(_runbook("a", _snippet("old", "echo same\n"), _snippet("drop", "rm -f x\n")))
    new = _manifest(
        _runbook("a", _snippet("new", "echo same\n", executable=False), _snippet("add", "ls\n"))
    )
    [runbook] = diff_manifests(old, new).runbooks
    assert [(s.id, s.status, s.old_id, s.kind) for s in runbook.snippets] == [
        ("new", "renamed", "old", ("executable", "reference")),
        ("add", "added", None, None),
        ("drop", "removed", None, None),
    ]


def test_only_line_numbers_moved_is_prose() -> None:
    """Prose edits change the source digest but no snippet: reported as text changed."""
    before = _runbook("a", _snippet("x", "echo\n"))
    after = Runbook("a", "A", {}, "runbooks/a.md", digest(b"other"), 2, before.snippets)
    [runbook] = diff_manifests(_manifest(before), _manifest(after)).runbooks
    assert runbook.prose_changed and runbook.snippets == ()


def test_markdown_escapes_hostile_titles_and_backticks() -> None:
    old = _manifest(_runbook("a", _snippet("x", "echo `a`\n")))
    evil = Runbook(
        "a",
        "<img src=x onerror=alert(1)> **b**",
        {},
        "runbooks/a.md",
        digest(b"e"),
        2,
        (_snippet("x", "echo ```\n"),),
    )
    out = render_markdown(diff_manifests(old, _manifest(evil)), "rb")
    assert "\\<img src=x onerror=alert\\(1\\)\\> \\*\\*b\\*\\*" in out
    assert "  ````diff" in out and "  +echo ```" in out


def test_site_diff_page_names_a_rename() -> None:
    """The site's diff pages use the same matching: a rename is one row, not removed + added."""
    from types import SimpleNamespace

    from builder.site.views import diff_view

    old = _runbook("a", _snippet("old", "echo same\n"), _snippet("keep", "ls\n"))
    new = _runbook("a", _snippet("keep", "ls -l\n"), _snippet("new", "echo same\n"))
    page = SimpleNamespace(
        old=old,
        new=new,
        old_release=SimpleNamespace(version="1"),
        new_release=SimpleNamespace(version="2"),
        path="runbooks/a/diff-r1-r2.html",
    )
    view = diff_view(page, b"x\n", b"y\n")  # type: ignore[arg-type]
    assert [(c["id"], c["change"], c["from"]) for c in view["changes"]] == [
        ("new", "renamed", "old"),
        ("keep", "changed", None),
    ]
