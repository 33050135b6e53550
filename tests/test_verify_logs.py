"""`sealbook-verify logs`: a clean log passes; every tamper fails with its own reason code."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from builder.run import RunOptions, RunTarget, run_snippet
from builder.runlog import RunLog, new_run_id
from verifier._cli import main as verify_main
from verifier.digests import canonical_json, digest
from verifier.errors import RefusedError
from verifier.logs import verify_logs
from verifier.manifest import Manifest
from verifier.policy import TrustPolicy
from verifier.results import Report, render_json, render_junit
from verifier.runlog import Head, format_time, line_hash

SLUG = "ops/demo"


def manifest(root: Path, version: str) -> Manifest:
    return Manifest.from_bytes((root / "releases" / version / "manifest.json").read_bytes())


def snippet_digest(root: Path, version: str, snippet_id: str) -> str:
    snippet = manifest(root, version).runbook(SLUG).snippet(snippet_id)  # type: ignore[union-attr]
    assert snippet is not None
    return snippet.digest


@pytest.fixture(scope="module")
def clean_log(run_releases: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log written by real runs: 2 of 1.0.0, 3 of 1.1.0, one refusal (9 records)."""
    folder = tmp_path_factory.mktemp("clean-log")
    log = folder / "runs.jsonl"
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    devnull = open("/dev/null", "wb")  # noqa: SIM115 - closed below
    options = RunOptions(
        releases=run_releases / "releases",
        log=log,
        cache=None,
        out_fd=devnull.fileno(),
        err_fd=devnull.fileno(),
        say=lambda _line: None,
        env={"MARK": str(folder / "mark"), "PATH": "/usr/bin:/bin"},
    )
    plan = [("1.0.0", "make-mark"), ("1.0.0", "version-echo"), ("1.1.0", "noop")]
    plan += [("1.1.0", "query"), ("1.1.0", "version-echo"), ("1.1.0", "clean-start")]
    for version, snippet_id in plan:
        sha = snippet_digest(run_releases, version, snippet_id)
        target = RunTarget.parse(f"{SLUG}@{version}", snippet_id, sha)
        try:
            run_snippet(target, policy, options)
        except RefusedError:
            assert snippet_id == "query"
    devnull.close()
    assert len(log.read_bytes().splitlines()) == 11
    return log


@pytest.fixture
def log(clean_log: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "runs.jsonl"
    shutil.copy(clean_log, copy)
    return copy


def verify(
    root: Path, capsys: pytest.CaptureFixture[str], *logs: Path, extra: tuple[str, ...] = ()
) -> tuple[int, dict[str, Any]]:
    rc = verify_main(
        [
            "logs",
            *map(str, logs),
            "--releases",
            str(root / "releases"),
            "--policy",
            str(root / "dev/sealbook.dev.toml"),
            "--format",
            "json",
            *extra,
        ]
    )
    return rc, json.loads(capsys.readouterr().out)


def codes(doc: dict[str, Any]) -> dict[int, str]:
    """Line number -> reason code."""
    return {int(r["item"].rsplit(":", 1)[1]): r["reason"] for r in doc["results"]}


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, new: list[bytes]) -> None:
    path.write_bytes(b"".join(new))


def forge(path: Path, records: list[dict[str, Any]]) -> None:
    """Append records with the real writer (a valid chain: only anchoring stops this)."""
    for record in records:
        RunLog(path).append(record)


def run_record(root: Path, version: str, snippet_id: str, kind: str, **over: Any) -> dict[str, Any]:
    raw = (root / "releases" / version / "manifest.json").read_bytes()
    record: dict[str, Any] = {
        "type": kind,
        "time": format_time(datetime.now(UTC)),
        "run_id": "r1",
        "host": "h",
        "user": "u",
        "slug": SLUG,
        "release": version,
        "manifest_digest": digest(raw),
        "snippet_id": snippet_id,
        "snippet_digest": snippet_digest(root, version, snippet_id),
        "params": {},
    }
    if kind == "finished":
        record |= {"exit_code": 0, "duration_ms": 1, "stdout_digest": digest(b"")}
        record["stderr_digest"] = digest(b"")
    return record | over


# -- clean --------------------------------------------------------------------


def test_clean_log_passes_with_refusal_reported(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 0, doc
    found = codes(doc)
    assert found.pop(7) == "run-refused"
    assert set(found.values()) == {"verified"}
    assert doc["summary"] == {"dev": True, "failed": 0, "total": 11, "verified": 11}


def test_json_is_deterministic_carries_its_digest_and_equals_report_rendering(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    lines_ = lines(log)
    lines_[2] = lines_[2].replace(b'"host":"', b'"host":"X')  # one failure in the report
    rewrite(log, lines_)
    argv = ["logs", str(log), "--releases", str(run_releases / "releases")]
    argv += ["--policy", str(run_releases / "dev/sealbook.dev.toml"), "--format", "json"]
    assert verify_main(argv) == 1
    first = capsys.readouterr().out
    verify_main(argv)
    assert capsys.readouterr().out == first
    doc = json.loads(first)
    claimed = doc.pop("digest")
    assert claimed == digest(canonical_json(doc))
    from verifier.logs import verify_logs

    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    report = verify_logs([log], run_releases / "releases", policy)
    assert first == render_json(Report("logs", report.results, context=report.context))


def test_text_and_junit(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    rewrite(log, lines(log)[:-1])  # started with no finished
    argv = ["logs", str(log), "--releases", str(run_releases / "releases")]
    argv += ["--policy", str(run_releases / "dev/sealbook.dev.toml")]
    assert verify_main(argv) == 1
    text = capsys.readouterr().out
    assert "ok   record" in text and "verified [DEV] (6 records)" in text
    assert "FAIL record" in text and "run-unfinished" in text
    assert "9/10 records verified; 1 failed" in text
    assert verify_main([*argv, "--format", "junit"]) == 1
    suite = ET.fromstring(capsys.readouterr().out)
    assert suite.get("tests") == "10" and suite.get("failures") == "1"
    assert len(suite.findall("testcase")) == 10


# -- tampering ----------------------------------------------------------------

STARTED_LINE = 5  # started noop @1.1.0 (line 6 is its finished record)
# What the edited record itself reports; the next record always reports log-chain-broken.
# An edit that passes the record's own checks (or fails one of lower precedence) is caught on
# the edited record too: the next record's prev pins other bytes for it (issue 16).
EDITS: dict[str, tuple[object, str]] = {
    "schema": ("sealbook.run/v1", "record-malformed"),  # written as v2: v1 has no invoker
    "seq": (99, "log-sequence-gap"),
    "prev": ("sha256:" + "1" * 64, "log-chain-broken"),
    "type": ("refused", "record-malformed"),
    "time": ("2000-01-01T00:00:00.000Z", "log-chain-broken"),
    "run_id": ("forged", "log-chain-broken"),
    "host": ("elsewhere", "log-chain-broken"),
    "user": ("mallory", "log-chain-broken"),
    "invoker": ("mallory", "log-chain-broken"),
    "slug": ("ops/other", "runbook-unknown"),
    "release": ("1.0.0", "manifest-digest-mismatch"),
    "manifest_digest": ("sha256:" + "2" * 64, "manifest-digest-mismatch"),
    "snippet_id": ("make-mark", "snippet-digest-mismatch"),
    "snippet_digest": ("sha256:" + "3" * 64, "snippet-digest-mismatch"),
    "params": ({"MARK": "/tmp/x"}, "record-malformed"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edited_record_every_field(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None, name: str
) -> None:
    value, own = EDITS[name]
    lines_ = lines(log)
    record = json.loads(lines_[STARTED_LINE - 1])
    assert record["type"] == "started" and record["snippet_id"] == "noop"
    record[name] = value
    lines_[STARTED_LINE - 1] = canonical_json(record) + b"\n"
    rewrite(log, lines_)
    rc, doc = verify(run_releases, capsys, log)
    found = codes(doc)
    assert rc == 1
    assert found[STARTED_LINE] == own, doc["results"][STARTED_LINE - 1]
    assert found[STARTED_LINE + 1] == "log-chain-broken"


@pytest.mark.parametrize(
    "name", ["exit_code", "duration_ms", "stdout_digest", "stderr_digest", "time", "run_id"]
)
def test_edited_finished_record_fields(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None, name: str
) -> None:
    lines_ = lines(log)
    record = json.loads(lines_[STARTED_LINE])
    record[name] = {"exit_code": 1, "duration_ms": 999, "run_id": "x"}.get(
        name, "2026-01-01T00:00:00.000Z" if name == "time" else "sha256:" + "4" * 64
    )
    lines_[STARTED_LINE] = canonical_json(record) + b"\n"
    rewrite(log, lines_)
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc)[STARTED_LINE + 2] == "log-chain-broken"


@pytest.mark.parametrize(
    ("attack", "line", "reason"),
    [
        ("deleted", 5, "log-chain-broken"),
        ("inserted", 5, "log-chain-broken"),
        ("duplicated", 6, "log-chain-broken"),
        ("swapped", 5, "log-chain-broken"),
        ("malformed", 5, "record-malformed"),
    ],
)
def test_record_deleted_inserted_duplicated_swapped(
    run_releases: Path,
    log: Path,
    capsys: pytest.CaptureFixture[str],
    no_sockets: None,
    attack: str,
    line: int,
    reason: str,
) -> None:
    lines_ = lines(log)
    i = STARTED_LINE - 1
    if attack == "deleted":
        del lines_[i]
    elif attack == "inserted":
        lines_.insert(i, lines_[i - 2])
    elif attack == "duplicated":
        lines_.insert(i, lines_[i])
    elif attack == "swapped":
        lines_[i], lines_[i + 1] = lines_[i + 1], lines_[i]
    else:
        lines_[i] = b"this is not json\n"
    rewrite(log, lines_)
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1
    assert codes(doc)[line] == reason, doc["results"][line - 1]


def test_deletion_also_shows_the_sequence_gap(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    lines_ = lines(log)
    del lines_[STARTED_LINE - 1 : STARTED_LINE + 1]
    rewrite(log, lines_)
    _rc, doc = verify(run_releases, capsys, log)
    assert "seq 7 follows 4" in doc["results"][STARTED_LINE - 1]["detail"]


def test_last_line_torn_mid_way(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - 40])
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc)[11] == "log-truncated"


def test_last_records_removed_caught_only_by_expect_head(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    all_lines = lines(log)
    head = f"{len(all_lines)}:{line_hash(all_lines[-1])}"
    rewrite(log, all_lines[:-3])
    rc, _doc = verify(run_releases, capsys, log)
    assert rc == 1  # a started record lost its finished one; remove a whole pair instead:
    rewrite(log, all_lines[:-4])
    rc, _doc = verify(run_releases, capsys, log)
    assert rc == 0, "without an anchor, removing whole runs from the end is invisible"
    rc, doc = verify(run_releases, capsys, log, extra=("--expect-head", head))
    assert rc == 1 and codes(doc)[7] == "log-head-mismatch"


def test_expect_head_of_a_rewritten_record(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    all_lines = lines(log)
    head = f"4:{line_hash(all_lines[3])}"
    rc, _doc = verify(run_releases, capsys, log, extra=("--expect-head", head))
    assert rc == 0
    rc, doc = verify(run_releases, capsys, log, extra=("--expect-head", "4:sha256:" + "5" * 64))
    assert rc == 1 and codes(doc)[4] == "log-head-mismatch"


def test_record_naming_a_release_that_does_not_exist(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    started = run_record(run_releases, "1.1.0", "noop", "started", release="4.0.0")
    forge(log, [started, run_record(run_releases, "1.1.0", "noop", "finished", release="4.0.0")])
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc) == {1: "release-unknown", 2: "release-unknown"}


def test_snippet_digest_from_another_release(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    old = snippet_digest(run_releases, "1.0.0", "version-echo")
    assert old != snippet_digest(run_releases, "1.1.0", "version-echo")
    forge(
        log,
        [
            run_record(run_releases, "1.1.0", "version-echo", kind, snippet_digest=old)
            for kind in ("started", "finished")
        ],
    )
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc)[1] == "snippet-digest-mismatch"


def test_run_dated_before_its_release_was_signed(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    early = "2020-01-01T00:00:00.000Z"
    forge(
        log,
        [run_record(run_releases, "1.1.0", "noop", k, time=early) for k in ("started", "finished")],
    )
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc) == {1: "run-before-release", 2: "run-before-release"}


def test_started_with_no_finished(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    forge(log, [run_record(run_releases, "1.1.0", "noop", "started")])
    forge(
        log,
        [
            run_record(run_releases, "1.1.0", "noop", k, run_id="r2")
            for k in ("started", "finished")
        ],
    )
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc) == {1: "run-unfinished", 2: "verified", 3: "verified"}


def test_finished_with_no_started_or_other_fields(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    forge(log, [run_record(run_releases, "1.1.0", "noop", "finished")])
    forge(log, [run_record(run_releases, "1.1.0", "noop", "started", run_id="r2")])
    forge(log, [run_record(run_releases, "1.1.0", "noop", "finished", run_id="r2", host="other")])
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc) == {1: "run-unmatched", 2: "verified", 3: "run-unmatched"}


# -- torn tails and recovery ----------------------------------------------------


def test_honest_recovered_record_is_reported(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    torn = lines(log)[2][:57]
    with log.open("ab") as fh:
        fh.write(torn)
    forge(
        log,
        [
            run_record(run_releases, "1.1.0", "noop", k, run_id="r9")
            for k in ("started", "finished")
        ],
    )
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 0, doc
    found = codes(doc)
    assert found[12] == "log-recovered" and found[13] == "log-recovered"
    recovered = json.loads(lines(log)[12])
    assert recovered["type"] == "recovered" and recovered["seq"] == 12
    assert recovered["torn_digest"] == digest(torn) and recovered["torn_bytes"] == 57
    assert doc["summary"]["failed"] == 0


def _write_partial(log: Path, record: dict[str, Any], keep: int) -> None:
    """Append what a writer dying after ``keep`` bytes of its append would leave."""
    data = RunLog._lines(RunLog(log).tail(), record)[0]
    with log.open("ab") as fh:
        fh.write(data[:keep])


def test_torn_recovery_of_a_torn_line_is_recovered_as_one_region(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    forge(log, [run_record(run_releases, "1.1.0", "noop", "started", run_id="a")])
    _write_partial(log, run_record(run_releases, "1.1.0", "noop", "finished", run_id="a"), 40)
    # The next writer dies half-way through its recovery too.
    _write_partial(log, run_record(run_releases, "1.1.0", "noop", "started", run_id="b"), 30)
    forge(
        log,
        [run_record(run_releases, "1.1.0", "noop", k, run_id="c") for k in ("started", "finished")],
    )
    rc, doc = verify(run_releases, capsys, log)
    found = codes(doc)
    assert (found[2], found[3], found[4]) == ("log-recovered",) * 3, doc["results"]
    assert found[1] == "run-unfinished" and found[5] == found[6] == "verified"
    assert rc == 1
    assert json.loads(lines(log)[3])["torn_bytes"] == 40 + 30


def test_torn_line_missing_only_its_newline(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    forge(log, [run_record(run_releases, "1.1.0", "noop", "started", run_id="a")])
    _write_partial(log, run_record(run_releases, "1.1.0", "noop", "finished", run_id="a"), -1)
    forge(
        log,
        [run_record(run_releases, "1.1.0", "noop", k, run_id="c") for k in ("started", "finished")],
    )
    rc, doc = verify(run_releases, capsys, log)
    # The torn bytes are kept and recovered; run "a" never finished on record.
    assert codes(doc) == {
        1: "run-unfinished",
        2: "log-recovered",
        3: "log-recovered",
        4: "verified",
        5: "verified",
    }, doc["results"]
    assert rc == 1


def test_recovered_record_naming_other_bytes_breaks_the_chain(
    run_releases: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    log = tmp_path / "runs.jsonl"
    forge(log, [run_record(run_releases, "1.1.0", "noop", k) for k in ("started", "finished")])
    bogus = {"type": "recovered", "time": format_time(datetime.now(UTC)), "run_id": new_run_id()}
    bogus |= {"host": "h", "user": "u", "torn_digest": digest(b"x"), "torn_bytes": 1}
    forge(log, [bogus])
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc)[3] == "log-chain-broken"


def _recover_over(log: Path, count: int, *, newline_included: bool) -> None:
    """Append a recovered record that names the last ``count`` complete lines as torn bytes."""
    tail = lines(log)[-count:]
    torn = b"".join(tail) if newline_included else b"".join(tail)[:-1]
    bogus = {"type": "recovered", "time": format_time(datetime.now(UTC)), "run_id": new_run_id()}
    bogus |= {"host": "h", "user": "u", "torn_digest": digest(torn), "torn_bytes": len(torn)}
    head_seq = json.loads(lines(log)[-count - 1])["seq"] if len(lines(log)) > count else 0
    record = {"schema": "sealbook.run/v1", "seq": head_seq + 1}
    before = lines(log)[-count - 1] if len(lines(log)) > count else None
    record["prev"] = line_hash(before) if before is not None else "sha256:" + "0" * 64
    with log.open("ab") as fh:
        fh.write(canonical_json(bogus | record) + b"\n")


@pytest.mark.parametrize(("count", "newline_included"), [(2, True), (2, False), (1, True)])
def test_forged_recovered_record_cannot_relabel_complete_records(
    run_releases: Path,
    log: Path,
    capsys: pytest.CaptureFixture[str],
    no_sockets: None,
    count: int,
    newline_included: bool,
) -> None:
    """A recovered record accounts only for bytes that never got a sequence number."""
    last = len(lines(log))
    _recover_over(log, count, newline_included=newline_included)
    rc, doc = verify(run_releases, capsys, log)
    found = codes(doc)
    assert rc == 1
    assert all(found[n] != "log-recovered" for n in range(last - count + 1, last + 1)), found
    assert found[last + 1] in ("log-chain-broken", "log-sequence-gap"), found


def test_forged_recovered_record_over_the_anchored_head_fails(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    """Relabelling the anchored record as "torn, missing only its newline" fails the anchor."""
    head = RunLog(log).tail().last
    _recover_over(log, 1, newline_included=False)
    rc, doc = verify(run_releases, capsys, log, extra=("--expect-head", f"{head.seq}:{head.hash}"))
    assert rc == 1 and "log-head-mismatch" in codes(doc).values(), codes(doc)


def _swap_line(log: Path, index: int, new: bytes) -> None:
    all_lines = lines(log)
    all_lines[index] = new + b"\n"
    rewrite(log, all_lines)


MALFORMED_SPELLINGS = {
    "duplicate key": lambda line: line.replace(
        b',"exit_code":0,', b',"exit_code":0,"exit_code":2,'
    ),
    "impossible time": lambda line: re.sub(
        rb'"time":"[^"]*"', b'"time":"2026-13-45T99:99:99.999Z"', line
    ),
    "february 30": lambda line: re.sub(rb'"time":"\d{4}-\d\d-\d\d', b'"time":"2026-02-30', line),
    "spaces": lambda line: line.replace(b'","', b'", "', 1),
    "escaped spelling": lambda line: (
        line.replace(b'"host":"', b'"host":"\\u0068', 1)
        if b'"host":"h' in line
        else line.replace(b'"schema":"sealbook', b'"schema":"\\u0073ealbook', 1)
    ),
    "key order": lambda line: b"{" + b",".join(sorted(line[1:-1].split(b","), reverse=True)) + b"}",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_SPELLINGS))
def test_a_line_other_than_its_canonical_json_is_malformed(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None, name: str
) -> None:
    finished = next(i for i, line in enumerate(lines(log)) if b'"exit_code":0,' in line)
    original = lines(log)[finished].rstrip(b"\n")
    changed = MALFORMED_SPELLINGS[name](original)
    assert changed != original
    _swap_line(log, finished, changed)
    rc, doc = verify(run_releases, capsys, log)
    assert rc == 1 and codes(doc)[finished + 1] == "record-malformed", codes(doc)


# -- whole-input problems -----------------------------------------------------


def test_exit_codes_for_unreadable_inputs(
    run_releases: Path,
    log: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_sockets: None,
) -> None:
    base = ["--releases", str(run_releases / "releases")]
    policy = ["--policy", str(run_releases / "dev/sealbook.dev.toml")]
    assert verify_main(["logs", str(tmp_path / "missing.jsonl"), *base, *policy]) == 3
    assert verify_main(["logs", str(log), *base, "--policy", str(tmp_path / "none.toml")]) == 4
    assert verify_main(["logs", str(log), "--releases", str(tmp_path / "none"), *policy]) == 3
    two = ["--expect-head", "1:sha256:" + "0" * 64] * 2
    assert verify_main(["logs", str(log), *base, *policy, *two]) == 2
    assert verify_main(["logs", str(log), *base, *policy, "--expect-head", "nonsense"]) == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert verify_main(["logs", str(empty), *base, *policy]) == 1
    capsys.readouterr()


def test_log_head_command(log: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from builder._cli import main as sealbook

    assert sealbook(["log", "head", "--log", str(log)]) == 0
    assert capsys.readouterr().out == f"11:{line_hash(lines(log)[-1])}\n"
    assert sealbook(["log", "head", "--log", str(tmp_path / "none.jsonl")]) == 0
    assert capsys.readouterr().out == "0:sha256:" + "0" * 64 + "\n"


def chained(path: Path, records: list[dict[str, Any]]) -> None:
    """Write ``records`` as a valid chain, whatever their fields (a forger's writer)."""
    from verifier.runlog import GENESIS, SCHEMA

    prev, out = GENESIS, b""
    for seq, record in enumerate(records, 1):
        line = canonical_json({**record, "schema": SCHEMA, "seq": seq, "prev": prev}) + b"\n"
        prev, out = line_hash(line), out + line
    path.write_bytes(out)


def test_a_malformed_parameter_fails_its_record_only(run_releases: Path, tmp_path: Path) -> None:
    """Its verdict used to be remembered for the run and fail every later record of it."""
    log = tmp_path / "runs.jsonl"
    ok = {"params": {"MARK": "ok"}}
    chained(
        log,
        [
            run_record(
                run_releases, "1.1.0", "make-mark", "started", run_id="a0", params={"MARK": 5}
            ),
            run_record(run_releases, "1.1.0", "make-mark", "started", run_id="a1", **ok),
            run_record(run_releases, "1.1.0", "make-mark", "finished", run_id="a1", **ok),
        ],
    )
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    for workers in (1, 2):
        report = verify_logs(
            [log],
            run_releases / "releases",
            policy,
            workers=workers,
            parallel_bytes=0,
            segment_bytes=300,
        )
        reasons = [r["reason"] for r in json.loads(report.render("json"))["results"]]
        assert reasons == ["record-malformed", "verified", "verified"], workers


# -- what the report says it checked (issue 16, deliver 1) ----------------------------------


def test_version_on_both_clis(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    from builder._cli import main as sealbook

    for main, prog in ((sealbook, "sealbook"), (verify_main, "sealbook-verify")):
        with pytest.raises(SystemExit) as exc:
            main(["--version"])
        assert exc.value.code == 0
        assert capsys.readouterr().out == f"{prog} {version('sealbook')}\n"


def test_report_names_version_policy_signers_and_inputs(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    from verifier import __version__

    policy_file = run_releases / "dev/sealbook.dev.toml"
    rc, doc = verify(run_releases, capsys, log)
    context = doc["context"]
    assert rc == 0
    assert context["sealbook"] == __version__
    assert context["policy digest"] == digest(policy_file.read_bytes())
    assert any(k.startswith("signer ") for k in context), context
    raw = log.read_bytes()
    assert context[f"input {log}"] == f"{digest(raw)} ({len(raw)} bytes)"
    assert context[f"anchor {log}"].startswith("none given")
    assert {k for k in context if k.startswith("release ")} == {"release 1.0.0", "release 1.1.0"}
    argv = ["logs", str(log), "--releases", str(run_releases / "releases")]
    argv += ["--policy", str(policy_file), "--format", "junit"]
    assert verify_main(argv) == 0
    suite = ET.fromstring(capsys.readouterr().out)
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["policy digest"] == context["policy digest"]
    assert props[f"input {log}"] == context[f"input {log}"]
    refused = [c for c in suite.iter("testcase") if c.find("system-out") is not None]
    assert [c.findtext("system-out", "").split(":")[0] for c in refused] == ["run-refused"]


def test_report_with_and_without_an_anchor_differs_and_names_it(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    head = f"8:{line_hash(lines(log)[7])}"
    rc, plain = verify(run_releases, capsys, log)
    rc_anchored, anchored = verify(
        run_releases, capsys, log, extra=("--expect-head", f"{log}={head}")
    )
    assert rc == rc_anchored == 0
    assert plain["digest"] != anchored["digest"]
    verdict = anchored["context"][f"anchor {log}"]
    assert verdict.startswith(f"{head}: verified") and "3 verified record(s) after it" in verdict
    found = codes(anchored)
    assert {found[i] for i in (9, 10, 11)} == {"verified-unanchored"}
    assert found[8] == "verified" and found[7] == "run-refused"
    assert codes(plain)[11] == "verified"
    _rc, again = verify(run_releases, capsys, log, extra=("--expect-head", head))  # plain form
    assert again == anchored  # deterministic, and SEQ:HASH alone pairs with the one LOG
    argv = ["logs", str(log), "--releases", str(run_releases / "releases")]
    argv += ["--policy", str(run_releases / "dev/sealbook.dev.toml"), "--expect-head", head]
    assert verify_main(argv) == 0
    text = capsys.readouterr().out
    assert f"anchor {log}: {head}: verified" in text
    assert f"ok   record {log}:9-11: verified-unanchored [DEV] (3 records)" in text


def test_after_a_failed_anchor_nothing_before_it_is_verified(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    rc, doc = verify(run_releases, capsys, log, extra=("--expect-head", "8:sha256:" + "5" * 64))
    found = codes(doc)
    assert rc == 1 and found[8] == "log-head-mismatch"
    assert {found[i] for i in range(1, 8) if i != 7} == {"log-unproven"}
    assert found[7] == "run-refused"  # reported as what it is, never as verified
    assert {found[i] for i in (9, 10, 11)} == {"verified"}  # after the anchor: the chain's word
    assert "FAILED" in doc["context"][f"anchor {log}"]
    assert "verified" not in {found[i] for i in range(1, 9)}
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    for head in ("8:sha256:" + "5" * 64, f"8:{line_hash(lines(log)[7])}"):
        report = verify_logs([log], run_releases / "releases", policy, [Head.parse(head)])
        expected = render_json(Report("logs", report.results, context=report.context))
        assert report.render("json") == expected  # the compact writer equals the generic one
        generic = render_junit(Report("logs", report.results, context=report.context))
        assert report.render("junit") == generic


def test_anchors_pair_with_their_logs_by_name(
    run_releases: Path, log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.jsonl"
    shutil.copy(log, other)
    head = f"11:{line_hash(lines(log)[-1])}"
    rc, doc = verify(run_releases, capsys, log, other, extra=("--expect-head", f"{other}={head}"))
    assert rc == 0
    assert doc["context"][f"anchor {log}"].startswith("none given")
    assert doc["context"][f"anchor {other}"].startswith(f"{head}: verified")
    base = ["logs", str(log), str(other), "--releases", str(run_releases / "releases")]
    base += ["--policy", str(run_releases / "dev/sealbook.dev.toml")]
    for extra in (
        ["--expect-head", head],  # one plain anchor for two logs: which one?
        ["--expect-head", f"{tmp_path}/nope.jsonl={head}"],
        ["--expect-head", head, "--expect-head", f"{other}={head}"],
        ["--expect-head", f"{other}={head}", "--expect-head", f"{other}={head}"],
    ):
        assert verify_main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "--expect-head" in err, err


# -- time and precision (issue 16, deliver 6) -------------------------------------------------


DAY = 86400


def _at(seconds: float) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=seconds))


def _verify_chained(root: Path, log: Path, **kwargs: Any) -> dict[int, tuple[str, str]]:
    policy = TrustPolicy.load(root / "dev/sealbook.dev.toml")
    report = verify_logs([log], root / "releases", policy, **kwargs)
    doc = json.loads(report.render("json"))
    return {int(r["item"].rsplit(":", 1)[1]): (r["reason"], r["detail"]) for r in doc["results"]}


def test_finished_before_its_started_fails(run_releases: Path, tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    chained(
        log,
        [
            run_record(run_releases, "1.1.0", "noop", "started", time=_at(-60)),
            run_record(run_releases, "1.1.0", "noop", "finished", time=_at(-61)),
        ],
    )
    found = _verify_chained(run_releases, log)
    assert found[1][0] == "verified"
    assert found[2][0] == "run-finished-before-started"
    assert "before its start at" in found[2][1] and "line 1" in found[2][1]


def test_times_going_backwards_beyond_the_skew_fail(run_releases: Path, tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    records = []
    for i, offset in enumerate((-3600, -3500, -3599, -4000, -3400)):  # 4000: 500 s back
        records.append(run_record(run_releases, "1.1.0", "noop", "started", run_id=f"r{i}"))
        records[-1]["time"] = _at(DAY + offset)  # after the releases' signing
        records.append(run_record(run_releases, "1.1.0", "noop", "finished", run_id=f"r{i}"))
        records[-1]["time"] = _at(DAY + offset + 1)
    chained(log, records)
    found = _verify_chained(run_releases, log, now=datetime.now(UTC) + timedelta(days=2))
    assert [found[n][0] for n in sorted(found)] == [
        "verified",
        "verified",
        "verified",
        "verified",
        "verified",  # 99 s back: within the 300 s skew (concurrent writers, clock steps)
        "verified",
        "log-time-backwards",
        "log-time-backwards",  # 499 s before the latest time seen, also beyond the skew
        "verified",
        "verified",
    ]
    assert "more than 300 s before" in found[7][1]


def test_a_record_dated_ahead_fails_and_the_older_ones_after_it_pass(
    run_releases: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    chained(
        log,
        [
            run_record(run_releases, "1.1.0", "noop", "started", run_id="a", time=_at(-100)),
            run_record(
                run_releases, "1.1.0", "noop", "finished", run_id="a", time=_at(86400 * 365)
            ),
            run_record(run_releases, "1.1.0", "noop", "started", run_id="b", time=_at(-50)),
            run_record(run_releases, "1.1.0", "noop", "finished", run_id="b", time=_at(-49)),
        ],
    )
    found = _verify_chained(run_releases, log)
    assert [found[n][0] for n in (1, 2, 3, 4)] == [
        "verified",
        "record-time-future",
        "verified",
        "verified",
    ]
    assert "after the verification time plus 300 s" in found[2][1]
    # the verification time is an input: a year on, the record is in the past
    later = datetime.now(UTC) + timedelta(days=366)
    assert _verify_chained(run_releases, log, now=later)[2][0] == "verified"


def test_snippet_digest_mismatch_names_the_run_and_both_digests(
    run_releases: Path, tmp_path: Path
) -> None:
    log = tmp_path / "runs.jsonl"
    other = snippet_digest(run_releases, "1.0.0", "version-echo")
    record = run_record(run_releases, "1.1.0", "version-echo", "started", snippet_digest=other)
    chained(log, [record])
    reason, detail = _verify_chained(run_releases, log)[1]
    signed = snippet_digest(run_releases, "1.1.0", "version-echo")
    assert reason == "snippet-digest-mismatch"
    assert f"{SLUG}@1.1.0 version-echo" in detail and other in detail and signed in detail


def test_source_digest_mismatch_names_the_file_and_both_digests(
    run_releases: Path, tmp_path: Path
) -> None:
    releases = tmp_path / "releases"
    shutil.copytree(run_releases / "releases", releases)
    source = next(p for p in (releases / "1.1.0").rglob("*.md") if p.is_file())
    signed = digest(source.read_bytes())
    source.write_bytes(source.read_bytes() + b"\nedited\n")
    log = tmp_path / "runs.jsonl"
    chained(log, [run_record(run_releases, "1.1.0", "noop", "started")])
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    doc = json.loads(verify_logs([log], releases, policy).render("json"))
    result = doc["results"][0]
    assert result["reason"] == "source-digest-mismatch"
    relative = str(source.relative_to(releases / "1.1.0"))
    assert f"release 1.1.0: {relative}:" in result["detail"]
    assert signed in result["detail"] and digest(source.read_bytes()) in result["detail"]
    assert str(tmp_path) not in result["detail"]  # no absolute path: same report elsewhere


def test_an_edited_record_is_reported_on_itself(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines_ = lines(log)
    lines_[STARTED_LINE - 1] = lines_[STARTED_LINE - 1].replace(b'"host":"', b'"host":"X')
    rewrite(log, lines_)
    _rc, doc = verify(run_releases, capsys, log)
    edited = doc["results"][STARTED_LINE - 1]
    assert edited["reason"] == "log-chain-broken"
    assert f"line {STARTED_LINE + 1}" in edited["detail"] and "edited" in edited["detail"]
    assert [r["reason"] for r in doc["results"]].count("log-chain-broken") == 2


@pytest.mark.parametrize("tail", ["mid-line", "newline-only-missing", "garbage-line", "empty"])
def test_the_head_of_a_torn_log_is_the_writers(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], tail: str
) -> None:
    from builder._cli import main as sealbook

    data = log.read_bytes()
    if tail == "mid-line":
        data = data[:-40]
    elif tail == "newline-only-missing":
        data = data[:-1]
    elif tail == "garbage-line":
        data += b"not a record\n{partial"
    else:
        data = b"{torn"
    log.write_bytes(data)
    assert sealbook(["log", "head", "--log", str(log)]) == 0
    head = capsys.readouterr().out.strip()
    _rc, doc = verify(run_releases, capsys, log)
    assert doc["context"][f"head {log}"] == head


# -- the audit summary (issue 16, deliver 2) ------------------------------------------------


def summary(
    root: Path, capsys: pytest.CaptureFixture[str], *logs: Path, extra: tuple[str, ...] = ()
) -> tuple[int, str]:
    argv = ["summary", *map(str, logs), "--releases", str(root / "releases")]
    rc = verify_main([*argv, "--policy", str(root / "dev/sealbook.dev.toml"), *extra])
    return rc, capsys.readouterr().out


def test_summary_counts_and_lists_what_the_runs_did(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    rc, out = summary(run_releases, capsys, log, extra=("--format", "json"))
    doc = json.loads(out)
    assert rc == 0
    claimed = doc.pop("digest")
    assert claimed == digest(canonical_json(doc))
    counts = doc["counts"]
    assert counts["records"] == 11 and counts["attempts"] == 6 and counts["failed"] == 0
    assert counts["per release"] == {"1.0.0": 2, "1.1.0": 4}
    assert counts["per runbook"] == {SLUG: 6}
    assert sum(counts["per host"].values()) == 6 and sum(counts["per invoker"].values()) == 6
    assert [(r["snippet_id"], r["outcome"]) for r in doc["refusals"]] == [
        ("query", "refused (snippet-not-executable)")
    ]
    assert doc["head"] == "1.1.0"
    assert {(r["snippet_id"], r["in newest"]) for r in doc["superseded"]} == {
        ("make-mark", "same"),
        ("version-echo", "changed"),
    }
    assert doc["unfinished"] == doc["recoveries"] == doc["nonzero_exits"] == []
    first = doc["records"][0]
    assert {"time", "host", "user", "invoker", "release", "snippet_id", "outcome"} <= first.keys()
    _rc, again = summary(run_releases, capsys, log, extra=("--format", "json"))
    assert again == out  # deterministic


def test_summary_window_and_markdown(
    run_releases: Path, log: Path, capsys: pytest.CaptureFixture[str], no_sockets: None
) -> None:
    lines_ = lines(log)
    rewrite(log, lines_[:-1])  # the last run never finished
    cut = json.loads(lines_[4])["time"]
    rc, out = summary(run_releases, capsys, log, extra=("--format", "json", "--since", cut))
    doc = json.loads(out)
    assert rc == 1
    assert all(r["time"] >= cut for r in doc["records"]) and doc["counts"]["records"] < 10
    assert [r["item"] for r in doc["unfinished"]] == [f"{log}:10"]
    assert doc["window"] == {"since": cut, "until": None}
    rc, md = summary(run_releases, capsys, log)
    assert md.startswith("# sealbook audit summary")
    assert "## Refusals (1)" in md and "## Unfinished runs (1)" in md
    assert "## Runs of superseded releases (2)" in md and "| changed |" in md
    assert "policy digest" in md
    rc, _out = summary(run_releases, capsys, log, extra=("--since", "yesterday"))
    assert rc == 2
