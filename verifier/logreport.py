"""Results of `sealbook-verify logs`, kept compact for logs of millions of records.

A log of a million records has a million results. Holding a `Result` object per record
would cost more than verifying it, so `LogResults` keeps one byte per record (the
index of its reason code in `verifier.reasons.REASONS`), one byte for its DEV flag,
and a detail only where there is something to say. `Result` objects are made on
demand (`LogReport.results`).

The renderings are those of `verifier.results.Report`, produced without building the
whole result list: the JSON is byte-identical to ``render_json`` of the same results
(a test holds the two equal), so its ``digest`` means the same. The text format shows
every non-verified record on its own line and collapses runs of verified records into
one ``ok`` line with the line range; JSON and JUnit list every record.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from xml.sax.saxutils import quoteattr

from verifier.digests import canonical_json
from verifier.errors import EXIT_FAILED, EXIT_OK
from verifier.reasons import REASONS, precedence
from verifier.results import (
    INFORMATIONAL,
    Report,
    Result,
    junit_case,
    junit_properties,
    render_text,
)
from verifier.runlog import Head

_CODE_INDEX = {code: i for i, (code, _) in enumerate(REASONS)}
_VERIFIED = _CODE_INDEX["verified"]
VERIFIED_CODE = _VERIFIED
"""The byte `LogResults` stores for a verified record."""
_UNANCHORED = _CODE_INDEX["verified-unanchored"]
_UNPROVEN = _CODE_INDEX["log-unproven"]
_QUIET = frozenset({_VERIFIED, _UNANCHORED, _UNPROVEN})
"""Codes that need no detail: runs of them collapse into one text line."""
_FAILING = [i for code, i in _CODE_INDEX.items() if code not in INFORMATIONAL]
REPORT_SCHEMA = "sealbook.verify-report/v1"


def clean(text: str) -> str:
    """Hostile log fields must not forge lines or break encodings in our output."""
    if text.isprintable() and text.isascii():
        return text
    return "".join(
        ch if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF else f"<U+{ord(ch):04X}>"
        for ch in text
    )


@dataclass
class LogResults:
    """One log's results: a reason code per line, in order."""

    name: str
    codes: bytearray = field(default_factory=bytearray)
    devs: bytearray = field(default_factory=bytearray)
    notes: dict[int, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    head: Head | None = None
    """The log's head ``SEQ:HASH`` as `sealbook log head` prints it (`verifier.runlog.tail_head`);
    None when no record is among its last lines."""
    anchor: str = ""
    """What the ``--expect-head`` anchor of this log proved (empty: none given)."""
    sha256: str = ""
    """``sha256:`` of the bytes verified (the file as it was when opened)."""
    size: int = 0
    """How many bytes were verified."""

    def __len__(self) -> int:
        return len(self.codes)

    def add_verified(self, dev: bool = False) -> None:
        """Append a verified record."""
        self.codes.append(_VERIFIED)
        self.devs.append(dev)

    def add(
        self, code: str, detail: str, facts: dict[str, Any] | None = None, dev: bool = False
    ) -> None:
        """Append a record with ``code``."""
        self.notes[len(self.codes)] = (clean(detail), facts or {})
        self.codes.append(_CODE_INDEX[code])
        self.devs.append(dev)

    def set(self, index: int, code: str, detail: str) -> None:
        """Replace the verdict of line ``index`` (a torn line proven recovered)."""
        facts = self.notes.get(index, ("", {}))[1]
        self.codes[index] = _CODE_INDEX[code]
        self.notes[index] = (clean(detail), facts)

    def worsen(self, index: int, code: str, detail: str) -> None:
        """Add a finding to line ``index``; the code of higher precedence stays."""
        current = REASONS[self.codes[index]][0]
        old_detail, facts = self.notes.get(index, ("", {}))
        if current == "verified" or precedence(code) < precedence(current):
            self.codes[index] = _CODE_INDEX[code]
        joined = f"{old_detail}; {detail}" if old_detail else detail
        self.notes[index] = (clean(joined), facts)

    def relabel(self, start: int, end: int, code: str) -> int:
        """Give verified lines ``start``..``end - 1`` the code ``code``; return how many."""
        part = self.codes[start:end]
        count = part.count(_VERIFIED)
        table = bytearray(range(256))
        table[_VERIFIED] = _CODE_INDEX[code]
        self.codes[start:end] = part.translate(table)
        return count

    def failed(self) -> int:
        """How many records failed."""
        return sum(self.codes.count(i) for i in _FAILING)

    def result(self, index: int) -> Result:
        """The `Result` of line ``index`` (0-based)."""
        detail, facts = self.notes.get(index, ("", {}))
        return Result(
            "record",
            f"{clean(self.name)}:{index + 1}",
            REASONS[self.codes[index]][0],
            detail,
            dev=bool(self.devs[index]),
            facts=facts,
        )


@dataclass
class LogReport:
    """All logs of one `sealbook-verify logs` command, plus facts about the trust used."""

    logs: list[LogResults] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    command: str = "logs"

    @property
    def results(self) -> list[Result]:
        """Every record's `Result` (materialised; for small logs and tests)."""
        return [log.result(i) for log in self.logs for i in range(len(log))]

    @property
    def total(self) -> int:
        return sum(len(log) for log in self.logs)

    @property
    def failed(self) -> int:
        return sum(log.failed() for log in self.logs)

    @property
    def dev(self) -> bool:
        return any(any(log.devs) for log in self.logs)

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed or not self.total else EXIT_OK

    def summary(self) -> str:
        """``N/M records verified; K failed`` (as `Report.summary`)."""
        failed = self.failed
        line = f"{self.total - failed}/{self.total} records verified; {failed} failed"
        if self.dev:
            line += " [DEV: verified against a dev root, not a production trust root]"
        return line

    def render(self, fmt: str) -> str:
        """The report as ``text``, ``json`` or ``junit``."""
        out = io.StringIO()
        self.write(out, fmt)
        return out.getvalue()

    def write(self, stream: TextIO, fmt: str) -> None:
        """Stream the report to ``stream`` without holding it all in memory twice."""
        if fmt == "json":
            self._write_json(stream)
        elif fmt == "junit":
            self._write_junit(stream)
        else:
            self._write_text(stream)

    def _write_text(self, stream: TextIO) -> None:
        head = render_text(Report(self.command, context=self.context)).splitlines()[:-1]
        stream.writelines(line + "\n" for line in head)
        for log in self.logs:
            name = clean(log.name)
            events = [(start, end, code, dev) for start, end, code, dev in _quiet_runs(log)]
            events += [(i, -1, 0, False) for i in log.notes]
            for start, end, code, dev in sorted(events):
                if end < 0:
                    single = Report(self.command, [log.result(start)])
                    stream.write(render_text(single).splitlines()[0] + "\n")
                    continue
                lines = f"{start + 1}" if start == end else f"{start + 1}-{end + 1}"
                count = f" ({end - start + 1} records)" if end > start else ""
                mark = " [DEV]" if dev else ""
                verdict = "FAIL" if code == _UNPROVEN else "ok  "
                reason = REASONS[code][0]
                stream.write(f"{verdict} record {name}:{lines}: {reason}{mark}{count}\n")
        stream.write(self.summary() + "\n")

    def _json_chunks(self) -> Iterator[bytes]:
        """The canonical JSON body without its ``digest`` field, in pieces."""
        yield b'{"command":' + canonical_json(self.command) + b',"context":'
        yield canonical_json(self.context) + b',"results":['
        sep = b""
        for log in self.logs:
            name = json.dumps(clean(log.name), ensure_ascii=False)[1:-1].encode("utf-8")
            quiet = {
                (code, dev): (
                    b'{"detail":"","dev":'
                    + (b"true" if dev else b"false")
                    + b',"facts":{},"item":"'
                    + name
                    + b":",
                    b'","kind":"record","ok":'
                    + (b"false" if code == _UNPROVEN else b"true")
                    + b',"reason":"'
                    + REASONS[code][0].encode()
                    + b'"}',
                )
                for code in _QUIET
                for dev in (False, True)
            }
            for index, code in enumerate(log.codes):
                if code in _QUIET and index not in log.notes:
                    prefix, suffix = quiet[code, bool(log.devs[index])]
                    yield sep + prefix + str(index + 1).encode() + suffix
                else:
                    yield sep + canonical_json(log.result(index).to_json())
                sep = b","
        total, failed = self.total, self.failed
        summary = {"dev": self.dev, "failed": failed, "total": total, "verified": total - failed}
        yield b'],"schema":"' + REPORT_SCHEMA.encode() + b'","summary":'
        yield canonical_json(summary) + b"}"

    def _write_json(self, stream: TextIO) -> None:
        sha = hashlib.sha256()
        for chunk in self._json_chunks():
            sha.update(chunk)
        digest_field = b',"digest":"sha256:' + sha.hexdigest().encode() + b'"'
        chunks = self._json_chunks()
        first = next(chunks)
        second = next(chunks)
        # "digest" sorts between "context" and "results" (RFC 8785 key order).
        cut = second.rindex(b',"results":[')
        buffer = [first, second[:cut], digest_field, second[cut:]]
        for chunk in chunks:
            buffer.append(chunk)
            if len(buffer) >= 4096:
                stream.write(b"".join(buffer).decode("utf-8"))
                buffer.clear()
        buffer.append(b"\n")
        stream.write(b"".join(buffer).decode("utf-8"))

    def _write_junit(self, stream: TextIO) -> None:
        name = quoteattr("sealbook-verify " + self.command)
        stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        stream.write(
            f'<testsuite name={name} tests="{self.total}" failures="{self.failed}" errors="0">\n'
        )
        stream.writelines(line + "\n" for line in junit_properties(self.context))
        for log in self.logs:
            for index, code in enumerate(log.codes):
                if code == _VERIFIED and index not in log.notes:
                    item = quoteattr(f"{clean(log.name)}:{index + 1}")
                    stream.write(f'  <testcase classname="record" name={item}/>\n')
                else:
                    stream.writelines(line + "\n" for line in junit_case(log.result(index)))
        stream.write("</testsuite>\n")


def _quiet_runs(log: LogResults) -> Iterator[tuple[int, int, int, bool]]:
    """Maximal runs of lines with the same quiet code, no note and the same DEV flag.

    Yields (start, end, code, dev); ``end`` is inclusive.
    """
    start = -1
    current = -1
    dev = False
    notes = log.notes
    for index, code in enumerate(log.codes):
        quiet = code in _QUIET and index not in notes
        flag = bool(log.devs[index])
        if start >= 0 and (not quiet or code != current or flag != dev):
            yield start, index - 1, current, dev
            start = -1
        if quiet and start < 0:
            start, current, dev = index, code, flag
    if start >= 0:
        yield start, len(log.codes) - 1, current, dev
