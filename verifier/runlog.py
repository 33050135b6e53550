"""The run log format (``sealbook.run/v1``): one JSON record per line, hash-chained.

A run log is JSON Lines. Every line is the canonical JSON (RFC 8785) of one record
followed by exactly one ``\\n``. Records form a chain:

- ``seq`` counts from 1 and grows by one per record;
- ``prev`` is ``sha256:<hex>`` over the previous line's raw bytes *including* its
  ``\\n`` (`line_hash`); the first record's ``prev`` is `GENESIS` (64 zeros);
- the log's *head* is ``SEQ:HASH`` of its last line (`Head`); an empty log's head is
  ``0:`` + `GENESIS`.

Record types and their fields (``schemas/run-record.schema.json`` is the same contract
as a JSON Schema, for other orchestrators):

- every record: ``schema seq prev type time run_id host user``;
- ``started``, ``finished``, ``refused`` add the run: ``slug release manifest_digest
  snippet_id snippet_digest params`` (``manifest_digest`` is null only on a refusal
  whose release could not be read);
- ``finished`` adds ``exit_code duration_ms stdout_digest stderr_digest``;
- ``refused`` adds ``reason`` (a reason code) and ``detail`` (one line);
- ``recovered`` adds ``torn_digest torn_bytes``: a writer found a torn last line (no
  final ``\\n``), ended it with ``\\n`` and appended this record. Its ``prev`` is the hash
  of the last *complete* line before the torn one and its ``seq`` follows that line's;
  the torn line itself is outside the chain and is identified by its digest.

This module is pure: bytes and dicts in, bytes, dicts and problems out.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from verifier.digests import canonical_json, is_digest
from verifier.errors import UsageError
from verifier.manifest import PARAM_RE, valid_slug, valid_snippet_id, valid_version
from verifier.reasons import CODES

SCHEMA = "sealbook.run/v1"
SCHEMA_V2 = "sealbook.run/v2"
"""``sealbook.run/v2`` is v1 plus ``invoker`` in every record (the invoking user beside the
effective ``user``). Writers since 0.1.0-issue-16 write v2; v1 records stay valid, and each
record is checked against the schema it names (`fields_of`)."""
GENESIS = "sha256:" + "0" * 64
TYPES = ("started", "finished", "refused", "recovered")
MAX_LINE_BYTES = 64 << 10
"""Writers never emit longer lines; the verifier treats longer ones as malformed."""
MAX_TORN_LINES = 64
"""Torn bytes span at most this many lines; more after the last record is not a crash."""
MAX_TEXT = 1024
"""Longest host, user, run id, detail or parameter value a record may carry."""

TIME_RE = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z"
)
"""UTC with milliseconds; with `valid_time`, a time the calendar has (no Feb 30, no 24:00)."""
RUN_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")

_COMMON = frozenset({"schema", "seq", "prev", "type", "time", "run_id", "host", "user"})
_RUN = frozenset({"slug", "release", "manifest_digest", "snippet_id", "snippet_digest", "params"})
FIELDS: dict[str, frozenset[str]] = {
    "started": _COMMON | _RUN,
    "finished": _COMMON | _RUN | {"exit_code", "duration_ms", "stdout_digest", "stderr_digest"},
    "refused": _COMMON | _RUN | {"reason", "detail"},
    "recovered": _COMMON | {"torn_digest", "torn_bytes"},
}
FIELDS_V2: dict[str, frozenset[str]] = {
    kind: fields | {"invoker"} for kind, fields in FIELDS.items()
}
RUN_FIELDS = tuple(sorted(_RUN))


def fields_of(record: dict[str, Any]) -> dict[str, frozenset[str]]:
    """The fields of each record type under the schema ``record`` names (v1 when unknown)."""
    return FIELDS_V2 if record.get("schema") == SCHEMA_V2 else FIELDS


def schema_for(fields: dict[str, Any]) -> str:
    """The schema a writer gives a record with these fields: v2 when it names its invoker."""
    return SCHEMA_V2 if "invoker" in fields else SCHEMA


def format_time(moment: datetime) -> str:
    """A record time: UTC, milliseconds, ``Z`` (``2026-11-28T12:00:00.123Z``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def chain_position(line: bytes) -> int | None:
    """The ``seq`` of a complete line (without ``\\n``) a writer may continue the chain from.

    Writers and the verifier agree on this: a line is a chain position when it is a JSON
    object with an integer ``seq`` >= 1; anything after the last such line is torn.
    """
    record = decode(line)
    seq = record.get("seq") if record is not None else None
    return seq if type(seq) is int and seq >= 1 else None


TAIL_BLOCK = 64 << 10
MAX_TAIL_BYTES = 64 << 20
"""How far back from the end `find_head` reads at most."""


def find_head(pread: Callable[[int, int], bytes], size: int) -> tuple[Head, int] | None:
    """The head of a log of ``size`` bytes, and the offset where its torn bytes begin.

    The one definition of a log's head, torn or not, shared by writers (`sealbook log head`,
    the next append) and the verifier: the last complete line (ending with ``\\n``) that is a
    chain position (`chain_position`), looking back over at most ``MAX_TORN_LINES + 1``
    lines; the bytes after it are torn. An empty log, or one whose lines are all torn, has
    the empty head. None: no record among the last lines (a writer refuses to append).
    ``pread(count, offset)`` reads the log.
    """
    pos = size
    buf = b""
    while True:
        nl = buf.rfind(b"\n")
        checked = 0
        while nl >= 0:
            start = buf.rfind(b"\n", 0, nl)
            if start < 0 and pos > 0:
                break  # this line begins before what we have read
            line = buf[start + 1 : nl]
            seq = chain_position(line)
            if seq is not None:
                return Head(seq, line_hash(line + b"\n")), pos + nl + 1
            checked += 1
            if checked > MAX_TORN_LINES:
                return None
            nl = start
        if pos == 0:
            return EMPTY_HEAD, 0
        if len(buf) > MAX_TAIL_BYTES:
            return None
        read_from = max(0, pos - TAIL_BLOCK)
        buf = pread(pos - read_from, read_from) + buf
        pos = read_from


def secret_digest(run_id: str, value: str) -> str:
    """What a run record holds for a secret parameter's value: never the value itself.

    ``sha256:`` over the run id, a NUL and the value (UTF-8): whoever knows the value can
    check it; equal secrets of different runs do not look equal; a guessable value can still
    be guessed, as any digest of it could.
    """
    return "sha256:" + hashlib.sha256(f"{run_id}\0{value}".encode()).hexdigest()


def line_hash(line: bytes) -> str:
    """``sha256:<hex>`` of one complete line's raw bytes, its final ``\\n`` included."""
    return "sha256:" + hashlib.sha256(line).hexdigest()


def encode(record: dict[str, Any]) -> bytes:
    """One log line: canonical JSON of ``record`` plus ``\\n``; raise ValueError if invalid."""
    problem = record_problem(record)
    if problem is not None:
        raise ValueError(f"not a {SCHEMA} record: {problem}")
    line = canonical_json(record) + b"\n"
    if len(line) > MAX_LINE_BYTES:
        raise ValueError(f"record is {len(line)} bytes; the limit is {MAX_LINE_BYTES}")
    return line


@functools.lru_cache(maxsize=4096)
def calendar_day(day: str) -> bool:
    """``YYYY-MM-DD`` is a day the calendar has (memoised: a log spans few days)."""
    try:
        _dt.date.fromisoformat(day)
    except ValueError:
        return False
    return True


def valid_time(value: object) -> bool:
    """``value`` is a record time: UTC with milliseconds, on a day the calendar has."""
    return type(value) is str and TIME_RE.fullmatch(value) is not None and calendar_day(value[:10])


def canonical_problem(line: bytes, record: dict[str, Any]) -> str | None:
    """Why ``line`` is not exactly the canonical JSON (RFC 8785) of ``record``, or None.

    One record has one spelling: a duplicate key, another number or string spelling, spaces
    or another key order make the line malformed, whatever it parses to.
    """
    try:
        if canonical_json(record) == line:
            return None
    except Exception:  # noqa: BLE001 - rfc8785 refuses floats/ints it cannot encode
        return "not encodable as canonical JSON (RFC 8785)"
    return (
        "not its canonical JSON (RFC 8785): a duplicate key, another spelling or another key order"
    )


def decode(line: bytes) -> dict[str, Any] | None:
    """The JSON object of one line (without its ``\\n``), or None if it is not one."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # bad UTF-8, bad JSON, or nested too deeply
        return None
    return value if type(value) is dict else None


def _text(value: object, limit: int = MAX_TEXT) -> bool:
    return type(value) is str and len(value) <= limit


def _count(value: object) -> bool:
    return type(value) is int and value >= 0


def params_problem(params: object) -> str | None:
    """Why ``params`` is not a name → value object of declared parameters, or None."""
    if type(params) is not dict:
        return "params must be an object"
    for name, value in params.items():
        if PARAM_RE.fullmatch(name) is None:
            return f"parameter name {name!r} is not [A-Z_][A-Z0-9_]*"
        if not _text(value, 4 * MAX_TEXT):
            return f"parameter {name} must be a string of at most {4 * MAX_TEXT} characters"
    return None


def run_problem(record: dict[str, Any]) -> str | None:
    """Why the run fields of a started/finished/refused record are malformed, or None."""
    if not (type(record["slug"]) is str and valid_slug(record["slug"])):
        return "slug is not a runbook slug"
    if not (type(record["release"]) is str and valid_version(record["release"])):
        return "release is not a release version"
    if not (type(record["snippet_id"]) is str and valid_snippet_id(record["snippet_id"])):
        return "snippet_id is not a snippet id"
    if not is_digest(record["snippet_digest"]):
        return "snippet_digest is not sha256:<64 hex>"
    manifest = record["manifest_digest"]
    if not (is_digest(manifest) or (manifest is None and record["type"] == "refused")):
        return "manifest_digest is not sha256:<64 hex>"
    return params_problem(record["params"])


def record_problem(record: object) -> str | None:
    """Why ``record`` is not a valid ``sealbook.run/v1`` record, or None if it is one.

    Checks shape and field types only; the chain, the sequence and the releases are
    the verifier's business (`verifier.logs`).
    """
    if type(record) is not dict:
        return "not a JSON object"
    kind = record.get("type")
    table = fields_of(record)
    fields = table.get(kind) if type(kind) is str else None  # a list or dict is unhashable
    if fields is None:
        return f"type must be one of {', '.join(TYPES)}"
    if record.keys() != fields:
        missing, extra = sorted(fields - record.keys()), sorted(record.keys() - fields)
        return f"fields differ from a {record['type']} record (missing {missing}, unknown {extra})"
    problem = common_problem(record)
    if problem is None and record["type"] != "recovered":
        problem = run_problem(record)
    return problem if problem is not None else type_problem(record)


def common_problem(record: dict[str, Any]) -> str | None:
    """Why the fields every record has are malformed (``prev`` is left to the chain check)."""
    if record["schema"] not in (SCHEMA, SCHEMA_V2):
        return f"schema must be {SCHEMA!r} or {SCHEMA_V2!r}"
    seq = record["seq"]
    if type(seq) is not int or seq < 1:
        return "seq must be an integer >= 1"
    if type(record["prev"]) is not str:
        return "prev must be a string"
    time = record["time"]
    if not valid_time(time):
        return (
            "time must be a calendar time in UTC with milliseconds, e.g. 2026-11-28T12:00:00.000Z"
        )
    run_id = record["run_id"]
    if type(run_id) is not str or RUN_ID_RE.fullmatch(run_id) is None:
        return "run_id must be 1-128 of [A-Za-z0-9._:-]"
    if not (_text(record["host"]) and _text(record["user"])):
        return f"host and user must be strings of at most {MAX_TEXT} characters"
    if record["schema"] == SCHEMA_V2 and not _text(record["invoker"]):
        return f"invoker must be a string of at most {MAX_TEXT} characters"
    return None


def type_problem(record: dict[str, Any]) -> str | None:
    """Why the fields particular to the record's type are malformed, or None."""
    kind = record["type"]
    if kind == "finished":
        code = record["exit_code"]
        if type(code) is not int or not 0 <= code <= 255:
            return "exit_code must be an integer 0..255"
        if not _count(record["duration_ms"]):
            return "duration_ms must be an integer >= 0"
        if not (is_digest(record["stdout_digest"]) and is_digest(record["stderr_digest"])):
            return "stdout_digest and stderr_digest must be sha256:<64 hex>"
    elif kind == "refused":
        reason = record["reason"]
        if type(reason) is not str or reason not in CODES or reason == "verified":
            return "reason must be a documented reason code"
        if not _text(record["detail"]):
            return f"detail must be a string of at most {MAX_TEXT} characters"
    elif kind == "recovered" and not (
        is_digest(record["torn_digest"]) and _count(record["torn_bytes"])
    ):
        return "torn_digest must be sha256:<64 hex> and torn_bytes an integer >= 0"
    return None


@dataclass(frozen=True)
class Head:
    """The head of a log, ``SEQ:HASH``: the last record's seq and its line's hash."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, value: str, option: str = "--expect-head") -> Head:
        """Parse ``SEQ:sha256:<hex>`` as printed by ``sealbook log head``."""
        seq, _, rest = value.partition(":")
        if not (seq.isdigit() and seq.isascii() and is_digest(rest)):
            raise UsageError(
                option,
                f"expected SEQ:sha256:<64 hex>, got {value!r}",
                "copy it from `sealbook log head`",
            )
        return cls(int(seq), rest)


EMPTY_HEAD = Head(0, GENESIS)
