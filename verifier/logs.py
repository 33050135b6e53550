"""Verify run logs offline against the signed releases: one result per record.

For every line of a log, in order (the first applicable code wins, `verifier.reasons`):
  (1) the line is complete (ends with ``\\n``; else ``log-truncated``) and is a
      ``sealbook.run/v1`` record (else ``record-malformed``);
  (2) ``prev`` equals the hash of the previous line (``log-chain-broken``) and ``seq``
      follows the previous record's (``log-sequence-gap``); a ``recovered`` record skips
      the torn line it names, which is reported as ``log-recovered``;
  (3) for ``started``/``finished``: the release exists and verifies under the policy
      (its own failure code, or ``release-unknown``), the manifest digest is the
      release's, the runbook and snippet exist, the snippet is executable, its digest
      is the signed one, the declared parameters are recorded; the record's time is not
      before the release's verified signing time minus ``clock_skew_seconds``;
  (4) every ``started`` is followed by a ``finished`` of the same run with the same run
      fields (``run-unfinished`` / ``run-unmatched``);
  (5) ``refused`` and ``recovered`` records are reported (``run-refused``,
      ``log-recovered``), not failed;
  (6) with ``--expect-head SEQ:HASH``, the record ``SEQ`` exists and its line hashes to
      ``HASH`` (``log-head-mismatch``): this is what catches removed newest records.

Each release is verified once per command, however many records name it; the checks
of a (release, runbook, snippet, digest, parameters) combination are memoised, so the
per-record work is one sha256, one JSON parse and a few comparisons.
"""

from __future__ import annotations

import functools
import hashlib
import json
import json.scanner
import multiprocessing
import operator
import os
import re
import stat
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from verifier.digests import is_digest
from verifier.errors import InputError, VerificationError
from verifier.logreport import VERIFIED_CODE, LogReport, LogResults, clean
from verifier.policy import TrustPolicy
from verifier.reasons import first
from verifier.release import VerifiedRelease, verify_release
from verifier.runlog import FIELDS as FIELDS_V1
from verifier.runlog import (
    GENESIS,
    MAX_LINE_BYTES,
    MAX_TEXT,
    MAX_TORN_LINES,
    RUN_ID_RE,
    SCHEMA,
    SCHEMA_V2,
    Head,
    calendar_day,
    canonical_problem,
    common_problem,
    decode,
    fields_of,
    find_head,
    format_time,
    record_problem,
    run_problem,
    type_problem,
    valid_time,
)

CHUNK_BYTES = 8 << 20
MAX_CARRY_BYTES = 64 << 20
SEGMENT_BYTES = 32 << 20
"""A parallel worker's share of a large log, per task."""
PARALLEL_BYTES = 64 << 20
"""Logs at least this large are verified in parallel (`verify_log`)."""


@dataclass(frozen=True)
class _RunVerdict:
    """The memoised outcome of checking one run identity against its release."""

    code: str
    detail: str = ""
    dev: bool = False
    not_before: str = ""
    """Earliest acceptable record time (signing time minus skew), in record time format."""
    secrets: tuple[str, ...] = ()
    """Parameters the snippet declares secret: recorded as digests (`secret_digest`), never
    in clear; checked per record, as the verdict does not depend on parameter values."""


class ReleaseIndex:
    """The releases of one folder, each verified at most once, on first use."""

    def __init__(self, releases: Path, policy: TrustPolicy, now: datetime | None = None) -> None:
        if not releases.is_dir():
            raise InputError(str(releases), "releases folder does not exist", "pass --releases DIR")
        self.releases = releases
        self.policy = policy
        self.skew = policy.clock_skew_seconds
        moment = datetime.now(UTC) if now is None else now
        self.future = format_time(moment + timedelta(seconds=self.skew))
        """The latest acceptable record time: the verification time plus the skew."""
        self.seen: dict[str, VerifiedRelease | tuple[str, str]] = {}
        """Every release asked for, verified or with (reason code, detail)."""
        self.learned: dict[str, str] = {}
        """`release_fact` of releases a parallel worker verified (`_stitch`)."""

    def get(self, version: str) -> VerifiedRelease | tuple[str, str]:
        """The verified release, or (reason code, detail) why it cannot be used."""
        if version not in self.seen:
            self.seen[version] = self._verify(version)
        return self.seen[version]

    def facts(self) -> dict[str, str]:
        """Version -> what its verification found, for every release asked for (`release_fact`).

        Includes releases first verified by a parallel worker (`learned`).
        """
        return self.learned | {v: release_fact(entry) for v, entry in self.seen.items()}

    def _verify(self, version: str) -> VerifiedRelease | tuple[str, str]:
        folder = self.releases / version
        if not folder.is_dir():
            return ("release-unknown", f"release {version} is not in {self.releases}")
        try:
            return verify_release(folder, self.policy)
        except VerificationError as exc:
            return (exc.reason, f"release {version}: {_within(exc.subject, folder)}: {exc.detail}")
        except InputError as exc:
            reason = "bundle-malformed" if "bundle" in exc.problem else "manifest-malformed"
            if "missing" in exc.problem or "cannot read" in exc.problem:
                reason = "input-unreadable"
            return (reason, f"release {version}: {exc.problem}")


def _within(subject: str, folder: Path) -> str:
    """``subject`` (a path the release check names) relative to the release folder, if inside."""
    try:
        return str(Path(subject).relative_to(folder)) or "."
    except ValueError:
        return subject


def release_fact(entry: VerifiedRelease | tuple[str, str]) -> str:
    """One line on a release for the report: its digest, signing time and signer, or why not."""
    if isinstance(entry, tuple):
        return f"not verified: {entry[0]} ({clean(entry[1])})"
    facts = entry.signature
    dev = ", DEV root" if entry.dev else ""
    return (
        f"{entry.manifest_digest} (signed {facts.signed_at:%Y-%m-%dT%H:%M:%SZ} "
        f"by {clean(facts.identity)}{dev})"
    )


def run_verdict(record: dict[str, Any], index: ReleaseIndex) -> _RunVerdict:
    """Check a started/finished record's run fields against its verified release."""
    release = index.get(record["release"])
    if isinstance(release, tuple):
        return _RunVerdict(*release)
    dev = release.dev
    if record["manifest_digest"] != release.manifest_digest:
        return _RunVerdict(
            "manifest-digest-mismatch",
            f"release {release.version} has manifest digest {release.manifest_digest}",
            dev,
        )
    runbook = release.manifest.runbook(record["slug"])
    if runbook is None:
        return _RunVerdict("runbook-unknown", f"no runbook {record['slug']} in {release.version}")
    snippet = runbook.snippet(record["snippet_id"])
    if snippet is None:
        return _RunVerdict(
            "snippet-unknown", f"no snippet {record['snippet_id']} in {runbook.slug}", dev
        )
    if not snippet.executable:
        return _RunVerdict("snippet-not-executable", f"{snippet.id} is a reference block", dev)
    if record["snippet_digest"] != snippet.digest:
        return _RunVerdict(
            "snippet-digest-mismatch",
            f"{runbook.slug}@{release.version} {snippet.id}: the record names "
            f"{record['snippet_digest']}, the signed digest is {snippet.digest}",
            dev,
        )
    missing = sorted(set(snippet.params) - record["params"].keys())
    extra = sorted(record["params"].keys() - set(snippet.params))
    if missing:
        return _RunVerdict("param-missing", f"declared parameter(s) {missing} not recorded", dev)
    if extra:
        return _RunVerdict("record-malformed", f"parameter(s) {extra} are not declared", dev)
    skew = timedelta(seconds=index.policy.clock_skew_seconds)
    not_before = (release.signature.signed_at - skew).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return _RunVerdict("verified", "", dev, not_before, snippet.secrets)


@dataclass
class _Chain:
    """Where the chain stands after the lines read so far."""

    last_hash: str = GENESIS
    last_seq: int = 0
    undo: tuple[str, str, Any] | None = None
    """How to take back the current line's effect on open runs, if it proves torn."""
    recent: deque[tuple[bytes, str, int, tuple[str, str, Any] | None, str]] = field(
        default_factory=lambda: deque(maxlen=MAX_TORN_LINES + 1)
    )
    """The last lines with the chain state before each (hash, seq, latest time) and its undo:
    torn candidates."""
    open_runs: dict[str, tuple[int, tuple[Any, ...], str]] = field(default_factory=dict)
    """Started runs not yet finished: run id -> (line, run fields, start time)."""
    max_time: str = ""
    """The latest record time so far (not counting times beyond the verification time)."""
    min_time: str = "9"
    """The earliest record time so far (a parallel worker's segment: `_stitch`)."""
    anchor_index: int = -1
    anchor_hash: str = ""


class LogVerifier:
    """Verifies one log's lines in order; results go to a compact `LogResults`."""

    def __init__(self, name: str, index: ReleaseIndex, expect: Head | None) -> None:
        self.results = LogResults(name)
        self.index = index
        self.expect = expect
        self.chain = _Chain()
        self._memo: dict[tuple[Any, ...], _RunVerdict] = {}
        self._expect_seq = expect.seq if expect is not None else -1
        self._boundary: _Boundary | None = None
        """In a parallel worker: the runs a segment closes or starts (`_verify_segment`)."""

    def lines(self, lines: list[bytes]) -> None:
        """Check complete lines (without their ``\\n``) in order.

        The common case of a million-record log, an ordinary started/finished record in
        the exact canonical shape writers emit (`_SHAPE`), is verified here, inline: the
        same checks as the full path (`line`), cheaper. Anything else (or any check
        failing) goes to `_other_line` with nothing changed yet.
        """
        chain = self.chain
        results = self.results
        add_code, add_dev = results.codes.append, results.devs.append
        remember = chain.recent.append
        open_runs = chain.open_runs
        memo = self._memo.get
        shape = _SHAPE.fullmatch
        params_shape = _PARAMS.fullmatch
        sha256 = hashlib.sha256
        expect_seq = self._expect_seq
        other = self._other_line
        boundary = self._boundary
        future = self.index.future
        skew = self.index.skew
        for line in lines:
            match = shape(line)
            if match is None or len(line) > MAX_LINE_BYTES:
                other(line)
                continue
            (
                duration,
                exit_code,
                host_b,
                invoker_b,
                manifest_b,
                params_b,
                prev_b,
                release_b,
                run_id_b,
                version_b,
                seq_b,
                slug_b,
                digest_b,
                snippet_b,
                stderr_b,
                when_b,
                kind_b,
                user_b,
            ) = match.groups()
            started = kind_b == b"started"
            try:
                seq = int(seq_b)  # as the JSON parser: too many digits is malformed
                if started:
                    shaped = duration is None and stderr_b is None
                else:
                    shaped = stderr_b is not None and int(duration) >= 0 and int(exit_code) <= 255
                shaped = shaped and (invoker_b is None) == (version_b == b"1")
                if not params_b:
                    params: dict[str, str] = {}
                elif params_shape(params_b) is None:
                    shaped, params = False, {}
                else:
                    pieces = params_b.split(b'"')  # '', name, ':', value, ',', name, ...
                    params = {
                        name.decode(): value.decode()
                        for name, value in zip(pieces[1::4], pieces[3::4], strict=True)
                    }
                    # A repeated name: the full path says what JSON makes of it.
                    shaped = shaped and 4 * len(params) + 1 == len(pieces)
                host, user = host_b.decode(), user_b.decode()
                invoker = None if invoker_b is None else invoker_b.decode()
                release, slug, snippet_id = release_b.decode(), slug_b.decode(), snippet_b.decode()
                snippet_digest, manifest_digest = digest_b.decode(), manifest_b.decode()
                prev = prev_b.decode()
            except (ValueError, TypeError):  # bad UTF-8; int(None): duration missing
                other(line)
                continue
            verdict = memo(
                (False, release, slug, snippet_id, snippet_digest, manifest_digest, tuple(params))
            )
            run_id = run_id_b.decode()
            when = when_b.decode()
            if (
                not shaped
                or verdict is None
                or verdict.code != "verified"
                or seq != chain.last_seq + 1
                or prev != chain.last_hash
                or when < verdict.not_before
                or when > future
                or (when < chain.max_time and beyond_skew(when, chain.max_time, skew))
                or not _day_ok(when_b)
                or len(host) > MAX_TEXT
                or len(user) > MAX_TEXT
                or (invoker is not None and len(invoker) > MAX_TEXT)
                or seq == expect_seq
                or any(len(value) > _MAX_PARAM for value in params.values())
                or (verdict.secrets and not _hidden(params, verdict.secrets))
            ):
                other(line)
                continue
            ident = (
                slug,
                release,
                snippet_id,
                snippet_digest,
                manifest_digest,
                host,
                user,
                invoker,
                params,
            )
            undo: tuple[str, str, Any]
            if started:
                if run_id in open_runs:
                    other(line)
                    continue
                open_runs[run_id] = (len(results.codes), ident, when)
                undo = ("opened", run_id, None)
                if boundary is not None:
                    boundary.started.add(run_id)
            else:
                opened = open_runs.get(run_id)
                if opened is not None and opened[1] == ident and opened[2] <= when:
                    del open_runs[run_id]
                elif (
                    opened is None
                    and boundary is not None
                    and run_id not in boundary.started
                    and run_id not in boundary.closed
                ):  # opened before this segment, perhaps: the parent pairs it
                    boundary.closed[run_id] = (len(results.codes), ident, when)
                else:
                    other(line)
                    continue
                undo = ("closed", run_id, opened)
            add_code(VERIFIED_CODE)
            add_dev(verdict.dev)
            remember((line, chain.last_hash, chain.last_seq, undo, chain.max_time))
            chain.last_hash = "sha256:" + sha256(line + b"\n").hexdigest()
            chain.last_seq = seq
            if when > chain.max_time:
                chain.max_time = when
            if when < chain.min_time:
                chain.min_time = when

    def _other_line(self, line: bytes) -> None:
        """A line `lines` does not verify inline: the generic scanner, else the full path."""
        if not self._scan_line(line):
            self.line(line)

    def _commit(
        self,
        line: bytes,
        started: bool,
        run_id: str,
        ident: tuple[Any, ...],
        seq: int,
        dev: bool,
        when: str,
    ) -> bool:
        """Pair a fast-path line with its run and advance the chain; False if it does not pair."""
        chain = self.chain
        undo: tuple[str, str, Any]
        if started:
            if run_id in chain.open_runs:
                return False
            chain.open_runs[run_id] = (len(self.results), ident, when)
            undo = ("opened", run_id, None)
        else:
            opened = chain.open_runs.get(run_id)
            if opened is None or opened[1] != ident or opened[2] > when:
                return False
            del chain.open_runs[run_id]
            undo = ("closed", run_id, opened)
        self.results.add_verified(dev)
        chain.recent.append((line, chain.last_hash, chain.last_seq, undo, chain.max_time))
        chain.last_hash = "sha256:" + hashlib.sha256(line + b"\n").hexdigest()
        chain.last_seq = seq
        chain.max_time = max(chain.max_time, when)
        chain.min_time = min(chain.min_time, when)
        return True

    def _scan_line(self, line: bytes) -> bool:
        """`fast_line` for a line not in the canonical shape: the generic JSON scanner."""
        chain = self.chain
        try:
            record, end = _SCAN(line.decode("utf-8"), 0)
            kind, seq, params = record["type"], record["seq"], record["params"]
            run_id, when, host, user = (
                record["run_id"],
                record["time"],
                record["host"],
                record["user"],
            )
            schema = record["schema"]
            v2 = schema == SCHEMA_V2
            invoker = record["invoker"] if v2 else None
            if kind == "started":
                if len(record) != _STARTED_COUNT + v2:
                    return False
            elif (
                kind != "finished"
                or len(record) != _FINISHED_COUNT + v2
                or not _finished_ok(record)
            ):
                return False
            verdict = self._memo.get(_memo_key(record))
            if (
                verdict is None
                or verdict.code != "verified"
                or end != len(line)
                or type(seq) is not int
                or seq != chain.last_seq + 1
                or record["prev"] != chain.last_hash
                or (schema != SCHEMA and not v2)
                or (v2 and (type(invoker) is not str or len(invoker) > MAX_TEXT))
                or type(when) is not str
                or when < verdict.not_before
                or not valid_time(when)
                or when > self.index.future
                or (when < chain.max_time and beyond_skew(when, chain.max_time, self.index.skew))
                or type(run_id) is not str
                or RUN_ID_RE.fullmatch(run_id) is None
                or type(host) is not str
                or type(user) is not str
                or len(host) > MAX_TEXT
                or len(user) > MAX_TEXT
                or type(params) is not dict
                or len(line) > MAX_LINE_BYTES
                or seq == self._expect_seq
                or canonical_problem(line, record) is not None
                or (verdict.secrets and not _hidden(params, verdict.secrets))
            ):
                return False
            for value in params.values():
                if type(value) is not str or len(value) > _MAX_PARAM:
                    return False
        except (ValueError, StopIteration, KeyError, TypeError, AttributeError, RecursionError):
            return False  # the full path says what is wrong
        ident = (*_IDENT_OF(record), invoker, params)
        return self._commit(line, kind == "started", run_id, ident, seq, verdict.dev, when)

    def line(self, line: bytes, complete: bool = True) -> None:
        """Check one line (without its ``\\n``); ``complete`` is False for a torn tail."""
        chain = self.chain
        i = len(self.results)
        before_hash, before_seq, before_max = chain.last_hash, chain.last_seq, chain.max_time
        line_hash = "sha256:" + hashlib.sha256(line + b"\n").hexdigest()
        record = decode(line) if len(line) <= MAX_LINE_BYTES else None
        chain.undo = None
        if not complete:
            self.results.add("log-truncated", f"torn last line ({len(line)} bytes, no newline)")
        elif record is None:
            self.results.add("record-malformed", "not a JSON object")
        elif (spelling := canonical_problem(line, record)) is not None:
            self.results.add("record-malformed", spelling)
        else:
            self._record(record, i)
        chain.recent.append((line, before_hash, before_seq, chain.undo, before_max))
        chain.last_hash = line_hash
        seq = record.get("seq") if record is not None else None
        chain.last_seq = seq if type(seq) is int else chain.last_seq + 1
        if self.expect is not None and seq == self.expect.seq and chain.anchor_index < 0:
            chain.anchor_index, chain.anchor_hash = i, line_hash

    def _record(self, record: dict[str, Any], i: int) -> None:
        chain = self.chain
        kind = record.get("type")
        table = fields_of(record)
        fields = table.get(kind) if type(kind) is str else None  # unhashable when not a str
        if fields is None or record.keys() != fields:
            problem = record_problem(record)
        else:
            problem = common_problem(record)
            if problem is None and kind == "recovered":
                problem = type_problem(record)
        if problem is not None:
            self.results.add("record-malformed", problem, _facts(record))
            return
        expected_prev, expected_seq = chain.last_hash, chain.last_seq + 1
        codes: list[str] = []
        details: list[str] = []
        if kind == "recovered":
            region = self._torn_region(record)
            if region is not None:
                expected_prev, expected_seq = region
                self._retract(i, record)
            else:
                codes.append("log-chain-broken")
                details.append("names torn bytes that are not the previous line")
        if record["prev"] != expected_prev:
            codes.append("log-chain-broken")
            details.append(f"prev is not the hash of line {i} ({expected_prev})")
            if kind != "recovered" and record["seq"] == expected_seq and i > 0:
                # Nothing is missing between the two: this link pins other bytes for line i.
                self.results.worsen(
                    i - 1,
                    "log-chain-broken",
                    f"line {i + 1} (seq {expected_seq}) names {record['prev']} as this line's "
                    f"hash, not {expected_prev}: this record was edited (or that prev was)",
                )
        if record["seq"] != expected_seq:
            codes.append("log-sequence-gap")
            details.append(f"seq {record['seq']} follows {expected_seq - 1}")
        self._time_checks(record["time"], codes, details)
        verdict = self._type_checks(record, str(kind), i, codes, details)
        self._finish(codes, details, record, verdict)

    def _time_checks(self, when: str, codes: list[str], details: list[str]) -> None:
        """Times beyond the verification time, or going backwards beyond the skew."""
        chain = self.chain
        skew = self.index.skew
        if when > self.index.future:
            codes.append("record-time-future")
            details.append(f"time {when} is after the verification time plus {skew} s")
            return  # not the log's latest time: the records after it are judged without it
        if when < chain.max_time and beyond_skew(when, chain.max_time, skew):
            codes.append("log-time-backwards")
            details.append(
                f"time {when} is more than {skew} s before {chain.max_time}, a time recorded earlier"
            )
        chain.max_time = max(chain.max_time, when)
        chain.min_time = min(chain.min_time, when)

    def _type_checks(
        self, record: dict[str, Any], kind: str, i: int, codes: list[str], details: list[str]
    ) -> _RunVerdict | None:
        """(3)-(5) for one record; append codes and details; return the run verdict if any."""
        if kind == "recovered":
            codes.append("log-recovered")
            details.append(f"recovers a torn line of {record['torn_bytes']} bytes")
            return None
        key: tuple[Any, ...] | None
        try:
            key = _memo_key(record)
            verdict = self._memo.get(key)
        except TypeError:  # an unhashable field: run_problem says which
            key, verdict = None, None
        if verdict is None:
            verdict = self._new_verdict(record, kind)
            # A malformed record's verdict may rest on its parameter values, which the key
            # leaves out: remembered, it would fail every later record of that run.
            if key is not None and verdict.code != "record-malformed":
                self._memo[key] = verdict
        if kind == "refused":
            problem = record_problem(record)
            codes.append("record-malformed" if problem else "run-refused")
            details.append(problem or f"refused ({record['reason']}): {record['detail']}")
            return None
        if verdict.code != "verified":
            codes.append(verdict.code)
            details.append(verdict.detail)
        elif record["time"] < verdict.not_before:
            codes.append("run-before-release")
            details.append(f"{record['time']} is before the signing time minus skew")
        if verdict.secrets and not _hidden(record["params"], verdict.secrets):
            clear = [n for n in verdict.secrets if not is_digest(record["params"].get(n))]
            codes.append("record-malformed")
            details.append(f"secret parameter(s) {clear} recorded in clear, not as a digest")
        self._pair(record, kind, i, codes, details)
        return verdict

    def _new_verdict(self, record: dict[str, Any], kind: str) -> _RunVerdict:
        problem = run_problem(record)
        if problem is not None:
            return _RunVerdict("record-malformed", problem)
        if kind == "refused":
            return _RunVerdict("verified")
        return run_verdict(record, self.index)

    def _pair(
        self, record: dict[str, Any], kind: str, i: int, codes: list[str], details: list[str]
    ) -> None:
        """(4) Match a finished record to its started one."""
        chain = self.chain
        run_id = record["run_id"]
        ident = (*_IDENT_OF(record), record.get("invoker"), record["params"])
        if kind == "started":
            if run_id in chain.open_runs:
                codes.append("run-unmatched")
                details.append(
                    f"run {run_id} already started on line {chain.open_runs[run_id][0] + 1}"
                )
                return
            chain.open_runs[run_id] = (i, ident, record["time"])
            chain.undo = ("opened", run_id, None)
            return
        problem = type_problem(record)
        if problem is not None:
            codes.append("record-malformed")
            details.append(problem)
        opened = chain.open_runs.pop(run_id, None)
        if opened is None:
            codes.append("run-unmatched")
            details.append(f"no started record for run {run_id}")
        else:
            chain.undo = ("closed", run_id, opened)
            if opened[1] != ident:
                codes.append("run-unmatched")
                details.append(f"run fields differ from its started record on line {opened[0] + 1}")
            if record["time"] < opened[2]:
                codes.append("run-finished-before-started")
                details.append(
                    f"finished at {record['time']}, before its start at {opened[2]} "
                    f"(line {opened[0] + 1})"
                )

    def _finish(
        self,
        codes: list[str],
        details: list[str],
        record: dict[str, Any],
        verdict: _RunVerdict | None,
    ) -> None:
        dev = verdict.dev if verdict is not None else False
        if not codes:
            self.results.add_verified(dev)
            return
        self.results.add(first(codes), "; ".join(details), _facts(record), dev)

    def _torn_lines(self, record: dict[str, Any]) -> int:
        """How many lines before ``record`` (a recovered one) are the torn bytes it names."""
        torn_bytes, torn_digest = record["torn_bytes"], record["torn_digest"]
        lines: list[bytes] = []
        total = 0
        for entry in reversed(self.chain.recent):
            lines.insert(0, entry[0])
            total += len(entry[0]) + 1
            if total == torn_bytes + 1:  # the writer ended the torn bytes with a newline
                candidate = b"\n".join(lines)
            elif total == torn_bytes:  # the torn bytes already ended with one
                candidate = b"\n".join(lines) + b"\n"
            elif total > torn_bytes + 1:
                return 0
            else:
                continue
            if "sha256:" + hashlib.sha256(candidate).hexdigest() != torn_digest:
                continue
            # Only bytes that never got a sequence number are torn: a line whose newline is
            # among the torn bytes was committed, and a record there is not torn.
            committed = lines if total == torn_bytes else lines[:-1]
            return 0 if any(_is_record(line) for line in committed) else len(lines)
        return 0

    def _torn_region(self, record: dict[str, Any]) -> tuple[str, int] | None:
        """The (prev, seq) a recovered record must continue from, if its torn bytes are found."""
        count = self._torn_lines(record)
        if not count:
            return None
        _line, before_hash, before_seq, _undo, _max = self.chain.recent[-count]
        return before_hash, before_seq + 1

    def _retract(self, index: int, record: dict[str, Any]) -> None:
        """The torn lines before line ``index`` are outside the chain: report them as recovered."""
        chain = self.chain
        count = self._torn_lines(record)
        if count:
            chain.max_time = chain.recent[-count][4]  # torn bytes carry no time of the log
        for back in range(1, count + 1):
            if chain.anchor_index == index - back:
                # The anchored line is now torn bytes: the anchor must find its record anew.
                chain.anchor_index, chain.anchor_hash = -1, ""
            undo = chain.recent[-back][3]
            if undo is not None:
                how, run_id, opened = undo
                if how == "opened":
                    chain.open_runs.pop(run_id, None)
                else:
                    chain.open_runs[run_id] = opened
            self.results.set(
                index - back,
                "log-recovered",
                f"torn bytes, recorded by the recovered record on line {index + 1}",
            )

    def close(self) -> LogResults:
        """(4) Unfinished runs and (6) the anchored head; return the results."""
        for run_id, (i, _ident, _when) in sorted(
            self.chain.open_runs.items(), key=lambda kv: kv[1][0]
        ):
            self.results.worsen(i, "run-unfinished", f"run {run_id} has no finished record")
        if self.expect is not None:
            self._check_anchor(self.expect)
        return self.results

    def _check_anchor(self, expect: Head) -> None:
        """(6) The anchored head: record SEQ exists and hashes as anchored.

        Verified lines after a matching anchor become ``verified-unanchored`` (only the chain
        vouches for them); after a failed one, verified lines before it become
        ``log-unproven``: the log may have been rewritten up to there.
        """
        chain = self.chain
        results = self.results
        if chain.anchor_index >= 0 and chain.anchor_hash == expect.hash:
            after = results.relabel(chain.anchor_index + 1, len(results), "verified-unanchored")
            results.anchor = (
                f"{expect}: verified (records 1..{expect.seq} anchored, to line "
                f"{chain.anchor_index + 1}; {after} verified record(s) after it unanchored)"
            )
            return
        if chain.anchor_index < 0:
            where = len(results) - 1
            detail = f"anchored head {expect} not found; the log ends at seq {chain.last_seq} (records removed?)"
        else:
            where = chain.anchor_index
            detail = f"record {expect.seq} hashes to {chain.anchor_hash}, anchored {expect.hash}"
        if where < 0:  # an emptied log: no line to attach the finding to
            results.add("log-head-mismatch", detail)
            where = 0
        else:
            results.worsen(where, "log-head-mismatch", detail)
        unproven = results.relabel(0, where, "log-unproven")
        results.anchor = (
            f"{expect}: FAILED (log-head-mismatch on line {where + 1}: {clean(detail)}; "
            f"{unproven} record(s) before it unproven)"
        )


_IDENT = (
    "slug",
    "release",
    "snippet_id",
    "snippet_digest",
    "manifest_digest",
    "host",
    "user",
)


_IDENT_OF = operator.itemgetter(*_IDENT)
_SCAN = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_STARTED_COUNT = len(FIELDS_V1["started"])
_FINISHED_COUNT = len(FIELDS_V1["finished"])
"""Fields of a v1 record; a v2 record has one more (``invoker``)."""
_MAX_PARAM = 4 * MAX_TEXT
_TEXT = rb'"([^"\\\x00-\x1f]*)"'
"""A JSON string with no escape and no control character: its value is its UTF-8 text."""
_KNOWN = rb'"([^"]*)"'
"""A string compared for equality with a value known to be clean (a digest, a memoised
run field): a value with an escape or a control character cannot equal one, so the
cheaper pattern accepts nothing more than `_TEXT` would."""
_PARAM = rb'"[^"\\\x00-\x1f]*":"[^"\\\x00-\x1f]*"'
_PARAMS = re.compile(_PARAM + rb"(?:," + _PARAM + rb")*")
_HEX = rb'"(sha256:[0-9a-f]{64})"'
_SHAPE = re.compile(
    rb'\{(?:"duration_ms":(0|[1-9][0-9]*),"exit_code":(0|[1-9][0-9]{0,2}),)?'
    rb'"host":' + _TEXT + rb'(?:,"invoker":' + _TEXT + rb")?"
    rb',"manifest_digest":' + _KNOWN + rb',"params":\{([^}]*)\}'
    rb',"prev":'
    + _KNOWN
    + rb',"release":'
    + _KNOWN
    + rb',"run_id":"([A-Za-z0-9._:-]{1,128})","schema":"sealbook\.run/v([12])","seq":([1-9][0-9]*)'
    + rb',"slug":'
    + _KNOWN
    + rb',"snippet_digest":'
    + _KNOWN
    + rb',"snippet_id":'
    + _KNOWN
    + rb'(?:,"stderr_digest":'
    + _HEX
    + rb',"stdout_digest":"sha256:[0-9a-f]{64}")?'
    + rb',"time":"([0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])'
    + rb'T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\.[0-9]{3}Z)"'
    + rb',"type":"(started|finished)","user":'
    + _TEXT
    + rb"\}"
)
"""The exact canonical (RFC 8785) shape of a started or finished record as writers emit it.

Keys are literal, distinct and in canonical order; numbers are plain integers (``int``
of their digits, as the JSON parser reads them). ``host``, ``user``, ``run_id``,
``time``, the output digests and the parameters (`_PARAMS`) hold no escape, quote or
control character, so each value is its bytes decoded as UTF-8 (a decode error takes
the full path). The `_KNOWN` fields are verified only by equality with a clean value:
``prev`` with the previous line's hash, the run fields with a memoised verified run
(`run_problem` passed). A verified line of this shape is thus the JSON object the
generic parser reads, with exactly the fields of its type.
"""


@functools.lru_cache(maxsize=1024)
def beyond_skew(earlier: str, later: str, skew: int) -> bool:
    """Record time ``earlier`` is more than ``skew`` seconds before ``later`` (both valid)."""
    gap = datetime.fromisoformat(later) - datetime.fromisoformat(earlier)
    return gap > timedelta(seconds=skew)


def _is_record(line: bytes) -> bool:
    """``line`` is a complete record: its canonical JSON, with a sequence number."""
    record = decode(line)
    return (
        record is not None
        and type(record.get("seq")) is int
        and canonical_problem(line, record) is None
    )


def _day_ok(when: bytes) -> bool:
    """The date of a `_SHAPE` time is one the calendar has (the regex bounds month and day)."""
    return calendar_day(when[:10].decode())


def _memo_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """What a run verdict depends on (parameter *values* do not matter to it)."""
    return (
        record["type"] == "refused",
        record["release"],
        record["slug"],
        record["snippet_id"],
        record["snippet_digest"],
        record["manifest_digest"],
        tuple(record["params"]),
    )


def _hidden(params: dict[str, Any], secrets: tuple[str, ...]) -> bool:
    """Every secret parameter is recorded as a digest (`secret_digest`), not in clear."""
    return all(is_digest(params.get(name)) for name in secrets)


def _finished_ok(record: dict[str, Any]) -> bool:
    code, duration = record["exit_code"], record["duration_ms"]
    return (
        type(code) is int
        and 0 <= code <= 255
        and type(duration) is int
        and duration >= 0
        and is_digest(record["stdout_digest"])
        and is_digest(record["stderr_digest"])
    )


def _facts(record: dict[str, Any]) -> dict[str, Any]:
    facts = {k: record[k] for k in ("seq", "type", "run_id") if k in record}
    return {k: v for k, v in facts.items() if type(v) in (int, str)}


def verify_log(
    path: Path,
    index: ReleaseIndex,
    expect: Head | None = None,
    *,
    workers: int | None = None,
    segment_bytes: int = SEGMENT_BYTES,
    parallel_bytes: int = PARALLEL_BYTES,
) -> LogResults:
    """Verify one log file; raise `InputError` if it cannot be read at all.

    A log of at least ``parallel_bytes`` is verified in segments of about
    ``segment_bytes`` by ``workers`` processes (default `default_workers`) when the
    platform can fork; the results are those of the serial path (`_verify_parallel`).
    """
    try:
        # O_NONBLOCK: a FIFO passed as a log must not hang the auditor.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise InputError(str(path), "is not a regular file", "pass the log file")
            count = default_workers() if workers is None else workers
            size = info.st_size  # a live log may grow: verify (and digest) what is here now
            verifier: LogVerifier | None = None
            sha = hashlib.sha256()
            if count > 1 and size >= parallel_bytes and _CAN_FORK:
                verifier = _verify_parallel(
                    fh, path, index, expect, count, segment_bytes, size, sha
                )
            if verifier is None:
                verifier = LogVerifier(str(path), index, expect)
                fh.seek(0)
                sha = hashlib.sha256()
                carry = _read_serial(fh, verifier, path, size, sha)
                if fh.tell() != size:
                    raise _shrank(str(path))
                if carry:
                    verifier.line(carry, complete=False)
            results = verifier.close()
            found = find_head(lambda count, offset: os.pread(fh.fileno(), count, offset), size)
            results.head = found[0] if found is not None else None
    except FileNotFoundError:
        raise InputError(str(path), "log is missing", "check the path") from None
    except IsADirectoryError:
        raise InputError(str(path), "is a folder, not a log", "pass the log file") from None
    except OSError as exc:
        raise InputError(
            str(path), f"cannot read the log ({exc.strerror})", "check permissions"
        ) from None
    results.sha256, results.size = "sha256:" + sha.hexdigest(), size
    return results


def _shrank(where: str) -> InputError:
    return InputError(where, "the log shrank while being verified", "verify a copy of it")


def _read_serial(fh: BinaryIO, verifier: LogVerifier, path: Path, stop: int, sha: Any) -> bytes:
    """Feed the complete lines from ``fh``'s position to ``stop``; return the rest.

    Every byte read also goes to ``sha`` (the digest of the input the report names).
    """
    carry = b""
    left = stop - fh.tell()
    while left > 0 and (chunk := fh.read(min(left, CHUNK_BYTES))):
        left -= len(chunk)
        sha.update(chunk)
        lines = (carry + chunk).split(b"\n")
        carry = lines.pop()
        if len(carry) > MAX_CARRY_BYTES:
            raise InputError(str(path), "a line is longer than 64 MiB", "this is not a run log")
        verifier.lines(lines)
    return carry


def default_workers() -> int:
    """Worker processes for a large log: ``$SEALBOOK_LOG_WORKERS``, else the usable CPUs (<= 8)."""
    value = os.environ.get("SEALBOOK_LOG_WORKERS", "")
    if value.isdigit():
        return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


# -- the parallel path --------------------------------------------------------------------
#
# The file is cut at line ends into segments. The parent verifies the first (small)
# segment itself, which verifies the releases it names and memoises their run verdicts;
# then it forks workers, which inherit both. A worker starts from the chain state the serial path has after the line before its
# segment, which that line alone determines (its hash, and its ``seq``: the full path
# and the fast path both take it as the next ``last_seq``). It verifies only what the
# serial path verifies without context: lines of `LogVerifier.lines`'s fast path and
# well-chained ``refused`` records (their results name no other line). A run first
# named in its segment gets its verdict there (a log kept across releases names each
# new one when it arrives). Any other line (a failure, a recovery, the anchored head)
# declines the segment. Runs are paired across segments by the parent: a worker lists
# the runs its segment closes that it did not open (`_Boundary.closed`), the runs it
# started, and those left open. When every segment verified this way, the parent's
# state is exactly the serial path's after the same lines; if any declined, the log is
# verified again serially from the start (a tampered log costs up to one parallel pass
# more).

_PREFIX_BYTES = 1 << 20
_BOUNDARY_SEARCH = 1 << 20
_CAN_FORK = "fork" in multiprocessing.get_all_start_methods()


class _Declined(Exception):
    """A segment holds a line a worker cannot verify without the serial context."""


@dataclass
class _Boundary:
    """What a segment's worker leaves to the parent to pair across segments."""

    closed: dict[str, tuple[int, tuple[Any, ...], str]] = field(default_factory=dict)
    """Runs finished in the segment with no started record in it: (line, run fields, time)."""
    started: set[str] = field(default_factory=set)
    """Every run started in the segment."""


@dataclass
class _Segment:
    """A worker's result: compact results and the chain and run state at the segment's end."""

    codes: bytes
    devs: bytes
    notes: dict[int, tuple[str, dict[str, Any]]]
    open_runs: dict[str, tuple[int, tuple[Any, ...], str]]
    closed: dict[str, tuple[int, tuple[Any, ...], str]]
    started: str
    """The started run ids, one per line (run ids hold no newline)."""
    last_hash: str
    last_seq: int
    carry: bytes
    releases: dict[str, str]
    """`ReleaseIndex.facts` of the worker: the releases it met, some perhaps verified there."""
    min_time: str
    max_time: str
    """The earliest and latest record times of the segment (`_stitch` checks the first)."""


class _SegmentVerifier(LogVerifier):
    """A worker's verifier: declines (`_Declined`) any line that needs the serial context."""

    def _other_line(self, line: bytes) -> None:
        record = decode(line) if len(line) <= MAX_LINE_BYTES else None
        chain = self.chain
        if record is not None and _SHAPE.fullmatch(line) and _memo_key(record) not in self._memo:
            # A run first named after the prefix (a release or snippet used later): in the
            # canonical shape its verdict rests on the key alone, so this worker finds it as
            # the serial path would (verifying the release once per worker), then goes on.
            verdict = self._new_verdict(record, record["type"])
            if verdict.code != "verified":
                raise _Declined
            self._memo[_memo_key(record)] = verdict
            self.lines([line])
            return
        if (
            record is None
            or record.get("type") != "refused"
            or record.get("prev") != chain.last_hash
            or record.get("seq") != chain.last_seq + 1
            or record.get("seq") == self._expect_seq
        ):
            raise _Declined
        self.line(line)


_WORK: tuple[str, int, ReleaseIndex, Head | None, dict[tuple[Any, ...], _RunVerdict]] | None = None
"""What forked workers inherit: the log's name and open descriptor (they read the very file
the parent checked, never a path that may have been replaced since), the releases, the
anchor and the verdicts."""


def _verify_segment(task: tuple[int, int]) -> _Segment | None:
    """In a worker: verify the lines in bytes [start, end) of the log; None if declined."""
    assert _WORK is not None
    path, fd, index, expect, memo = _WORK
    start, end = task
    low = max(0, start - 1 - MAX_LINE_BYTES - 1)
    before = os.pread(fd, start - 1 - low, low)  # up to the newline ending the previous line
    cut = before.rfind(b"\n")
    if cut < 0 and low > 0:
        return None  # the previous line is too long to be a record
    previous = before[cut + 1 :]
    data = os.pread(fd, end - start, start) if os.pread(fd, 1, start - 1) else b""
    record = decode(previous) if len(previous) <= MAX_LINE_BYTES else None
    seq = record.get("seq") if record is not None else None
    if type(seq) is not int:
        return None
    verifier = _SegmentVerifier(path, index, expect)
    verifier._memo = memo
    boundary = verifier._boundary = _Boundary()
    chain = verifier.chain
    chain.last_hash = "sha256:" + hashlib.sha256(previous + b"\n").hexdigest()
    chain.last_seq = seq
    when = record.get("time") if record is not None else None
    if valid_time(when) and str(when) <= index.future:
        chain.max_time = str(when)  # at most the serial path's latest time: `_stitch` checks
    lines = data.split(b"\n")
    carry = lines.pop()
    try:
        verifier.lines(lines)
    except _Declined:
        return None
    results = verifier.results
    return _Segment(
        bytes(results.codes),
        bytes(results.devs),
        results.notes,
        chain.open_runs,
        boundary.closed,
        "\n".join(boundary.started),
        chain.last_hash,
        chain.last_seq,
        carry,
        index.facts(),
        chain.min_time,
        chain.max_time,
    )


def _boundaries(fh: BinaryIO, size: int, first: int, step: int) -> list[int] | None:
    """Offsets just after a newline, about ``first``, ``first + step``, ...; None if not found."""
    cuts: list[int] = []
    target = first
    while target < size:
        fh.seek(target - 1)
        block = fh.read(_BOUNDARY_SEARCH)
        newline = block.find(b"\n")
        if newline < 0:
            return None
        cut = target + newline
        if cut >= size:
            break
        if not cuts or cut > cuts[-1]:
            cuts.append(cut)
        target = max(cut, target) + step
    return cuts


def _verify_parallel(
    fh: BinaryIO,
    path: Path,
    index: ReleaseIndex,
    expect: Head | None,
    workers: int,
    segment_bytes: int,
    size: int,
    sha: Any,
) -> LogVerifier | None:
    """The serial path's verifier state after every line of the log, or None if declined.

    While the workers verify, the parent hashes the file into ``sha`` (the input's digest:
    sha256 is sequential, so this is the one pass no worker can share).
    """
    global _WORK  # inherited by the forked workers
    cuts = _boundaries(fh, size, max(1, min(segment_bytes, _PREFIX_BYTES)), segment_bytes)
    if not cuts:
        return None
    verifier = LogVerifier(str(path), index, expect)
    fh.seek(0)
    if _read_serial(fh, verifier, path, cuts[0], sha):
        return None  # cannot happen: the prefix ends with a newline
    tasks = list(zip(cuts, [*cuts[1:], size], strict=True))
    _WORK = (str(path), fh.fileno(), index, expect, verifier._memo)
    carry = b""
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(tasks))) as pool:
            segments = pool.imap(_verify_segment, tasks)
            _hash_range(fh.fileno(), cuts[0], size, sha, str(path))
            declined = False
            for segment in segments:
                # Once declined, the remaining results are only drained: terminating a pool
                # with results still in flight can hang in Pool._terminate_pool.
                if declined or segment is None or not _stitch(verifier, segment):
                    declined = True
                    continue
                carry = segment.carry
            if declined:
                return None
    finally:
        _WORK = None
    if len(carry) > MAX_CARRY_BYTES:
        return None  # the serial path says so
    if carry:
        verifier.line(carry, complete=False)
    return verifier


def _hash_range(fd: int, start: int, end: int, sha: Any, where: str) -> None:
    """Hash bytes [start, end) of ``fd`` into ``sha`` (hashlib releases the GIL meanwhile)."""
    while start < end:
        block = os.pread(fd, min(CHUNK_BYTES, end - start), start)
        if not block:
            raise _shrank(where)
        sha.update(block)
        start += len(block)


def _stitch(verifier: LogVerifier, segment: _Segment) -> bool:
    """Append a segment's results and pair its runs with those still open; False if they differ."""
    open_runs = verifier.chain.open_runs
    latest = verifier.chain.max_time
    if segment.min_time < latest and beyond_skew(segment.min_time, latest, verifier.index.skew):
        return False  # the serial path reports log-time-backwards
    for run_id, (_line, ident, when) in segment.closed.items():
        opened = open_runs.get(run_id)
        if opened is None or opened[1] != ident or when < opened[2]:
            return False  # the serial path reports run-unmatched / run-finished-before-started
    started = f"\n{segment.started}\n"
    for run_id in open_runs:
        if run_id not in segment.closed and f"\n{run_id}\n" in started:
            return False  # started again while open: run-unmatched
    base = len(verifier.results)
    for run_id in segment.closed:
        del open_runs[run_id]
    for run_id, (line, ident, when) in segment.open_runs.items():
        open_runs[run_id] = (base + line, ident, when)
    results = verifier.results
    results.codes += segment.codes
    results.devs += segment.devs
    for line, note in segment.notes.items():
        results.notes[base + line] = note
    verifier.chain.last_hash = segment.last_hash
    verifier.chain.last_seq = segment.last_seq
    verifier.chain.max_time = max(latest, segment.max_time)
    verifier.index.learned.update(segment.releases)
    return True


def verify_logs(
    logs: list[Path],
    releases: Path,
    policy: TrustPolicy,
    expect: list[Head | None] | None = None,
    now: datetime | None = None,
    **parallel: int,
) -> LogReport:
    """Verify every log against the releases folder; ``expect`` pairs with ``logs`` by position.

    ``parallel`` (``workers``, ``segment_bytes``, ``parallel_bytes``) goes to `verify_log`.
    The report's context names every input by path and sha256, each log's anchor and what
    it proved, and the releases the records named.
    """
    index = ReleaseIndex(releases, policy, now)
    heads: list[Head | None] = list(expect) if expect else [None] * len(logs)
    report = LogReport(context={**policy.describe(), "releases": clean(str(releases))})
    for path, head in zip(logs, heads, strict=True):
        results = verify_log(path, index, head, **parallel)
        report.logs.append(results)
        name = clean(str(path))
        report.context[f"input {name}"] = f"{results.sha256} ({results.size} bytes)"
        report.context[f"head {name}"] = (
            str(results.head)
            if results.head is not None
            else "none: no record among its last lines (`sealbook run` refuses to append)"
        )
        report.context[f"anchor {name}"] = results.anchor or (
            "none given: no record is anchored (a writer of the log could rewrite it whole)"
        )
    for version, fact in sorted(index.facts().items()):
        report.context[f"release {clean(version)}"] = fact
    return report
