"""The parallel path of `sealbook-verify logs` gives byte-identical reports to the serial one."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from builder.runlog import RunLog
from tests.test_verify_logs import lines, rewrite, run_record
from verifier import logs as logs_module
from verifier.digests import canonical_json
from verifier.logs import verify_logs
from verifier.policy import TrustPolicy
from verifier.runlog import line_hash


def _log(root: Path, folder: Path, pairs: int = 40, **over: str) -> Path:
    """A clean log of interleaved runs, with a refusal in the middle."""
    log = folder / "runs.jsonl"
    run = RunLog(log)
    for i in range(pairs):
        run.append(run_record(root, "1.1.0", "noop", "started", run_id=f"a{i}", **over))
        if i % 7 == 3:
            refused = run_record(root, "1.1.0", "noop", "refused", run_id=f"x{i}", **over)
            run.append(refused | {"reason": "snippet-digest-mismatch", "detail": "no"})
        if i:
            run.append(run_record(root, "1.1.0", "noop", "finished", run_id=f"a{i - 1}", **over))
    return log


def _reports(
    root: Path, log: Path, extra: list[str] | None = None, now: datetime | None = None
) -> tuple[str, str, bool]:
    policy = TrustPolicy.load(root / "dev/sealbook.dev.toml")
    heads = None
    if extra:
        from verifier.runlog import Head

        heads = [Head.parse(extra[0])]
    serial = verify_logs([log], root / "releases", policy, heads, now, workers=1)
    used: list[bool] = []
    real = logs_module._verify_parallel

    def spy(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        used.append(result is not None)
        return result

    logs_module._verify_parallel = spy  # type: ignore[assignment]
    try:
        parallel = verify_logs(
            [log],
            root / "releases",
            policy,
            heads,
            now,
            workers=2,
            segment_bytes=700,
            parallel_bytes=0,
        )
    finally:
        logs_module._verify_parallel = real
    return serial.render("json"), parallel.render("json"), bool(used and used[0])


def test_clean_log_in_parallel_equals_serial(run_releases: Path, tmp_path: Path) -> None:
    log = _log(run_releases, tmp_path)
    serial, parallel, used = _reports(run_releases, log)
    assert used, "the parallel path declined a clean log"
    assert serial == parallel
    assert json.loads(serial)["summary"]["failed"] == 1  # the last run is still open
    for fmt in ("text", "junit"):
        policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
        a = verify_logs([log], run_releases / "releases", policy, workers=1).render(fmt)
        b = verify_logs(
            [log], run_releases / "releases", policy, workers=2, segment_bytes=500, parallel_bytes=0
        ).render(fmt)
        assert a == b


def test_v1_then_v2_records_in_parallel_equal_serial(run_releases: Path, tmp_path: Path) -> None:
    """A log kept across the upgrade: v1 records, then v2 ones naming their invoker."""
    log = _log(run_releases, tmp_path, pairs=20)
    RunLog(log).append(run_record(run_releases, "1.1.0", "noop", "finished", run_id="a19"))
    for i in range(20):
        for kind in ("started", "finished"):
            record = run_record(run_releases, "1.1.0", "noop", kind, run_id=f"b{i}")
            RunLog(log).append(record | {"invoker": "alice"})
    schemas = {json.loads(line)["schema"] for line in lines(log)}
    assert schemas == {"sealbook.run/v1", "sealbook.run/v2"}
    serial, parallel, used = _reports(run_releases, log)
    assert serial == parallel and used
    assert json.loads(serial)["summary"]["failed"] == 0


def _tampered(log: Path, how: str) -> None:
    lines_ = lines(log)
    i = len(lines_) // 2
    if how == "edited":
        lines_[i] = lines_[i].replace(b'"host":"h"', b'"host":"H"')
    elif how == "deleted":
        del lines_[i]
    elif how == "duplicated":
        lines_.insert(i, lines_[i])
    elif how == "swapped":
        lines_[i], lines_[i + 1] = lines_[i + 1], lines_[i]
    elif how == "malformed":
        lines_[i] = b"not json\n"
    elif how == "torn":
        lines_[-1] = lines_[-1][:30]
    elif how == "run-reused":
        record = json.loads(lines_[i])
        record["run_id"] = json.loads(lines_[1])["run_id"]
        lines_[i] = canonical_json(record) + b"\n"
    rewrite(log, lines_)


@pytest.mark.parametrize(
    "how", ["edited", "deleted", "duplicated", "swapped", "malformed", "torn", "run-reused"]
)
def test_tampered_log_in_parallel_equals_serial(
    run_releases: Path, tmp_path: Path, how: str
) -> None:
    log = _log(run_releases, tmp_path)
    _tampered(log, how)
    serial, parallel, _used = _reports(run_releases, log)
    assert serial == parallel
    assert json.loads(serial)["summary"]["failed"] >= 1


def test_expect_head_in_parallel_equals_serial(run_releases: Path, tmp_path: Path) -> None:
    log = _log(run_releases, tmp_path)
    all_lines = lines(log)
    for seq in (5, len(all_lines) - 1):
        head = f"{seq}:{line_hash(all_lines[seq - 1])}"
        serial, parallel, _used = _reports(run_releases, log, [head])
        assert serial == parallel
        assert json.loads(serial)["summary"]["failed"] == 1  # only the open run
    serial, parallel, _used = _reports(
        run_releases, log, [f"{len(all_lines) + 9}:{'sha256:' + '0' * 64}"]
    )
    assert serial == parallel and "log-head-mismatch" in serial


def test_recovered_log_in_parallel_equals_serial(run_releases: Path, tmp_path: Path) -> None:
    log = _log(run_releases, tmp_path)
    with log.open("ab") as fh:
        fh.write(lines(log)[2][:57])
    run = RunLog(log)
    for kind in ("started", "finished"):
        run.append(run_record(run_releases, "1.1.0", "noop", kind, run_id="z"))
    for _ in range(10):
        run.append(run_record(run_releases, "1.1.0", "noop", "started", run_id="y"))
        run.append(run_record(run_releases, "1.1.0", "noop", "finished", run_id="y"))
    serial, parallel, _used = _reports(run_releases, log)
    assert serial == parallel and "log-recovered" in serial


def _late_log(root: Path, folder: Path, late: dict[str, str] | None = None) -> Path:
    """Runs of one snippet first; a second snippet and an older release only later on."""
    log = folder / "runs.jsonl"
    run = RunLog(log)
    plan = [("1.1.0", "noop")] * 12 + [("1.1.0", "version-echo"), ("1.0.0", "noop")] * 6
    for i, (version, snippet) in enumerate(plan):
        started = run_record(root, version, snippet, "started", run_id=f"a{i}")
        finished = run_record(root, version, snippet, "finished", run_id=f"a{i}")
        if late and i == len(plan) - 3:
            started |= late
            finished |= late
        run.append(started)
        run.append(finished)
    return log


def test_runs_first_named_late_stay_parallel_and_equal_serial(
    run_releases: Path, tmp_path: Path
) -> None:
    """A long-lived log names new releases as they come; that alone must not go serial."""
    log = _late_log(run_releases, tmp_path)
    serial, parallel, used = _reports(run_releases, log)
    assert used, "the parallel path declined runs first named after the first segment"
    assert serial == parallel
    assert json.loads(serial)["summary"]["failed"] == 0


def test_a_late_run_that_fails_equals_serial(run_releases: Path, tmp_path: Path) -> None:
    log = _late_log(run_releases, tmp_path, {"snippet_digest": "sha256:" + "0" * 64})
    serial, parallel, _ = _reports(run_releases, log)
    assert serial == parallel
    assert json.loads(serial)["summary"]["failed"] == 2


def test_workers_read_the_file_the_parent_opened(
    run_releases: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log path replaced mid-verification (here by a FIFO) is not opened again by workers:
    they read the file the parent checked (opening the FIFO used to hang them)."""
    import signal

    log = _log(run_releases, tmp_path)
    before, _, _ = _reports(run_releases, log)
    real = logs_module._boundaries

    def cut_then_replace(*args: object) -> object:
        cuts = real(*args)  # type: ignore[arg-type]
        log.unlink()  # the parent has the original open
        os.mkfifo(log)
        return cuts

    def hung(*_: object) -> None:
        raise TimeoutError("the workers hung")

    monkeypatch.setattr(logs_module, "_boundaries", cut_then_replace)
    policy = TrustPolicy.load(run_releases / "dev/sealbook.dev.toml")
    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        during = verify_logs(
            [log], run_releases / "releases", policy, workers=2, segment_bytes=700, parallel_bytes=0
        )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert during.render("json") == before


def _timed_log(root: Path, folder: Path, times: dict[int, str]) -> Path:
    """30 runs one second apart from tomorrow (after the releases' signing), except record N
    (from 1) at ``times[N]``."""
    from verifier.runlog import format_time

    log = folder / "runs.jsonl"
    run = RunLog(log)
    start = datetime.now(UTC) + timedelta(days=1)
    seq = 0
    for i in range(30):
        for kind in ("started", "finished"):
            seq += 1
            when = times.get(seq, format_time(start + timedelta(seconds=seq)))
            run.append(run_record(root, "1.1.0", "noop", kind, run_id=f"t{i}", time=when))
    return log


@pytest.mark.parametrize("where", [3, 31, 58])
def test_times_going_backwards_in_parallel_equal_serial(
    run_releases: Path, tmp_path: Path, where: int
) -> None:
    from verifier.runlog import format_time

    early = format_time(datetime.now(UTC) + timedelta(days=1) - timedelta(hours=1))
    log = _timed_log(run_releases, tmp_path, {where: early})
    later = datetime.now(UTC) + timedelta(days=2)
    serial, parallel, _used = _reports(run_releases, log, now=later)
    assert serial == parallel
    results = json.loads(serial)["results"]
    found = {int(r["item"].rsplit(":", 1)[1]): r for r in results}
    assert found[where]["reason"] == "log-time-backwards"
    if where % 2 == 0:  # a finished record: before its start too (named in the detail)
        assert "before its start" in found[where]["detail"]
    assert [r["reason"] for r in results if r["reason"] != "verified"] == ["log-time-backwards"]
    within = format_time(datetime.now(UTC) + timedelta(days=1) - timedelta(seconds=200))
    (tmp_path / "within").mkdir()
    log = _timed_log(run_releases, tmp_path / "within", {where: within} if where % 2 else {})
    serial, parallel, used = _reports(run_releases, log, now=later)
    assert serial == parallel and used
    assert json.loads(serial)["summary"]["failed"] == 0
