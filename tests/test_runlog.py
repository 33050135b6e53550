"""The run log format and writer on synthetic records: encoding, schema file, locking, torn tails."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builder.runlog import RunLog, RunLogError, default_log_path, read_tail
from builder.verdict_cache import VerdictCache, verdict_key
from tests.conftest import REPO
from verifier.digests import canonical_json, digest
from verifier.errors import EXIT_REFUSED
from verifier.runlog import (
    EMPTY_HEAD,
    FIELDS,
    GENESIS,
    Head,
    encode,
    format_time,
    line_hash,
    record_problem,
)
from verifier.signature import SignatureFacts


def refused(**over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "refused",
        "time": "2026-11-28T12:00:00.000Z",
        "run_id": "r1",
        "host": "h",
        "user": "u",
        "slug": "ops/demo",
        "release": "1.0.0",
        "manifest_digest": None,
        "snippet_id": "x",
        "snippet_digest": "sha256:" + "a" * 64,
        "params": {"NAMESPACE": "prod"},
        "reason": "snippet-unknown",
        "detail": "no such snippet",
    }
    return record | over


def test_schema_file_matches_the_format() -> None:
    schema = json.loads((REPO / "schemas/run-record.schema.json").read_text(encoding="utf-8"))
    variants = {v["properties"]["type"]["const"]: v for v in schema["oneOf"]}
    assert set(variants) == set(FIELDS)
    for kind, variant in variants.items():
        assert set(variant["required"]) == set(FIELDS[kind]) == set(variant["properties"])
        assert variant["additionalProperties"] is False


def test_v2_schema_file_is_v1_plus_invoker() -> None:
    from verifier.runlog import FIELDS_V2

    schema = json.loads((REPO / "schemas/run-record.v2.schema.json").read_text(encoding="utf-8"))
    variants = {v["properties"]["type"]["const"]: v for v in schema["oneOf"]}
    assert set(variants) == set(FIELDS_V2)
    for kind, variant in variants.items():
        assert set(variant["required"]) == set(FIELDS_V2[kind]) == set(variant["properties"])
        assert variant["properties"]["schema"]["const"] == "sealbook.run/v2"


def test_invoking_user_login_uid_then_sudo_then_effective(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import pwd

    from builder import runlog as runlog_module
    from builder.runlog import invoking_user

    me = pwd.getpwuid(os.geteuid()).pw_name
    login = tmp_path / "loginuid"
    monkeypatch.setattr(runlog_module, "LOGIN_UID", login)
    login.write_text("4294967295")  # unset: no login session (a container, a daemon)
    assert invoking_user({"SUDO_USER": "alice"}) == "alice"
    assert invoking_user({}) == me
    login.write_text(f"{os.geteuid()}\n")  # the kernel's login uid wins over the environment
    assert invoking_user({"SUDO_USER": "mallory"}) == me
    login.write_text("98765")  # a uid with no name
    assert invoking_user({}) == "98765"


def test_writer_picks_the_schema_by_the_fields(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    log = RunLog(path)
    log.append(refused())
    log.append(refused(run_id="r2", invoker="alice"))
    first, second = (json.loads(line) for line in path.read_bytes().splitlines())
    assert first["schema"] == "sealbook.run/v1" and "invoker" not in first
    assert second["schema"] == "sealbook.run/v2" and second["invoker"] == "alice"
    assert record_problem(second) is None
    assert record_problem({**second, "schema": "sealbook.run/v1"}) is not None
    assert record_problem({k: v for k, v in second.items() if k != "invoker"}) is not None


def test_encode_is_canonical_json_with_one_newline() -> None:
    record = refused(schema="sealbook.run/v1", seq=1, prev=GENESIS)
    line = encode(record)
    assert line == canonical_json(record) + b"\n"
    assert record_problem(json.loads(line)) is None
    with pytest.raises(ValueError, match="fields differ"):
        encode({**record, "extra": 1})
    with pytest.raises(ValueError, match="seq"):
        encode({**record, "seq": True})
    with pytest.raises(ValueError, match="reason"):
        encode({**record, "reason": "made-up"})


def test_time_format_and_head() -> None:
    moment = datetime(2026, 11, 28, 12, 0, 0, 123999, tzinfo=UTC)
    assert format_time(moment) == "2026-11-28T12:00:00.123Z"
    head = Head.parse("12:sha256:" + "b" * 64)
    assert head == Head(12, "sha256:" + "b" * 64) and str(head) == "12:sha256:" + "b" * 64
    assert str(EMPTY_HEAD) == "0:" + GENESIS


def test_default_log_location() -> None:
    assert default_log_path({"SEALBOOK_LOG": "/x/l.jsonl"}) == Path("/x/l.jsonl")
    assert default_log_path({"XDG_STATE_HOME": "/s"}) == Path("/s/sealbook/runs.jsonl")
    assert default_log_path({}).parts[-4:] == (".local", "state", "sealbook", "runs.jsonl")


def test_append_chains_and_creates_private_files(tmp_path: Path) -> None:
    path = tmp_path / "state" / "runs.jsonl"
    log = RunLog(path)
    first = log.append(refused())
    second = log.append(refused(run_id="r2"))
    lines = path.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[0])["prev"] == GENESIS
    assert json.loads(lines[1])["prev"] == line_hash(lines[0]) == first.hash
    assert second == Head(2, line_hash(lines[1])) == log.tail().last
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_torn_tail_is_kept_and_recovered(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    log = RunLog(path)
    log.append(refused())
    with path.open("ab") as fh:
        fh.write(b'{"schema":"sealbook.run/v1","se')
    assert log.tail().torn == b'{"schema":"sealbook.run/v1","se'
    log.append(refused(run_id="r2"))
    lines = path.read_bytes().splitlines(keepends=True)
    assert lines[1] == b'{"schema":"sealbook.run/v1","se\n'
    recovered = json.loads(lines[2])
    assert recovered["type"] == "recovered" and recovered["seq"] == 2
    assert recovered["prev"] == line_hash(lines[0])
    assert recovered["torn_digest"] == digest(b'{"schema":"sealbook.run/v1","se')
    assert json.loads(lines[3])["prev"] == line_hash(lines[2])


def test_long_lines_are_read_back_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    log = RunLog(path)
    for i in range(3):
        log.append(refused(run_id=f"r{i}", detail="d" * 1000, params={"P": "v" * 4000}))
    fd = os.open(path, os.O_RDONLY)
    try:
        assert read_tail(fd, str(path)).last.seq == 3
    finally:
        os.close(fd)


def test_a_log_with_no_record_at_its_end_refuses_to_grow(tmp_path: Path) -> None:
    path = tmp_path / "runs.jsonl"
    RunLog(path).append(refused())
    with path.open("ab") as fh:
        fh.write(b"garbage\n" * 100)
    with pytest.raises(RunLogError) as caught:
        RunLog(path).append(refused())
    assert caught.value.exit_code == EXIT_REFUSED


def test_verdict_cache_trusts_only_private_entries(tmp_path: Path) -> None:
    cache = VerdictCache(tmp_path / "verdicts")
    facts = SignatureFacts("dev", True, "i", "iss", 7, datetime(2026, 1, 1, tzinfo=UTC))
    key = verdict_key("sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "3" * 64)
    assert cache.get(key) is None
    cache.put(key, facts)
    assert (tmp_path / "verdicts").stat().st_mode & 0o777 == 0o700
    assert cache.get(key) == facts
    (tmp_path / "verdicts" / key).chmod(0o644)
    assert cache.get(key) is None
    (tmp_path / "verdicts" / key).chmod(0o600)
    (tmp_path / "verdicts").chmod(0o770)
    assert cache.get(key) is None
    assert key != verdict_key("sha256:" + "1" * 64, "sha256:" + "2" * 64, "sha256:" + "4" * 64)
