"""An audit summary of verified run logs: who ran what, where, and what to look at.

`summarize` takes the verified logs (`verifier.logs.verify_logs`) and the release chain's
head, reads each log again and returns a deterministic document (`sealbook.audit-summary/v1`):

- ``records``: one entry per record in the window, with its verdict and the facts the host
  reported (time, host, user, invoker, runbook, release, snippet, exit code, outcome);
- ``counts``: run attempts (``started`` and ``refused`` records) per host, user, invoker,
  runbook and release, and records per verdict;
- ``refusals``, ``unfinished``, ``recoveries``, ``nonzero_exits``: the records an auditor
  looks at first;
- ``superseded``: runs of a release older than the chain's head, and whether the snippet's
  signed bytes are the same in the head (``same``), differ (``changed``) or are gone
  (``absent``).

``since``/``until`` (record times, inclusive) narrow every list and count; the logs are
verified whole regardless (the chain needs every record). `render_markdown` is the same
document for a workpaper. Pure apart from reading the logs.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

from verifier.digests import canonical_json, digest
from verifier.errors import InputError
from verifier.logreport import LogReport, clean
from verifier.release import VerifiedRelease
from verifier.runlog import decode

SCHEMA = "sealbook.audit-summary/v1"
_FACTS = (
    "time",
    "host",
    "user",
    "invoker",
    "slug",
    "release",
    "snippet_id",
    "snippet_digest",
    "exit_code",
)


def summarize(
    report: LogReport,
    logs: list[Path],
    head: VerifiedRelease | None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """The summary document of ``report`` (whose logs are ``logs``, in order); see the module."""
    records: list[dict[str, Any]] = []
    for path, results in zip(logs, report.logs, strict=True):
        for index, line in enumerate(_lines(path, results.sha256)):
            record = decode(line) or {}
            when = record.get("time")
            if type(when) is not str or (since and when < since) or (until and when > until):
                continue
            verdict = results.result(index)
            entry = {"item": verdict.item, "reason": verdict.reason, "ok": verdict.ok}
            entry["type"] = record.get("type")
            entry |= {k: record[k] for k in _FACTS if type(record.get(k)) in (str, int)}
            entry["outcome"] = _outcome(record, verdict.reason)
            records.append(_clean(entry))
    attempts = [r for r in records if r["type"] in ("started", "refused")]
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "context": report.context,
        "window": {"since": since, "until": until},
        "head": None if head is None else head.version,
        "records": records,
        "counts": {
            "attempts": len(attempts),
            "records": len(records),
            "failed": sum(not r["ok"] for r in records),
            **{
                f"per {name}": _count(attempts, key)
                for name, key in (
                    ("host", "host"),
                    ("user", "user"),
                    ("invoker", "invoker"),
                    ("runbook", "slug"),
                    ("release", "release"),
                )
            },
            "per verdict": _count(records, "reason"),
        },
        "refusals": [r for r in records if r["type"] == "refused"],
        "unfinished": [r for r in records if r["reason"] == "run-unfinished"],
        "recoveries": [r for r in records if r["reason"] == "log-recovered"],
        "nonzero_exits": [r for r in records if r["type"] == "finished" and r.get("exit_code")],
        "superseded": _superseded(records, head),
    }
    doc["digest"] = digest(canonical_json(doc))
    return doc


def _lines(path: Path, expected: str) -> list[bytes]:
    """The log's lines as verified (the same bytes: else `InputError`)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), f"cannot read the log ({exc.strerror})", "check it") from None
    if "sha256:" + hashlib.sha256(data).hexdigest() != expected:
        raise InputError(str(path), "changed while it was verified", "summarise a copy of it")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _outcome(record: dict[str, Any], reason: str) -> str:
    kind = record.get("type")
    if kind == "finished":
        code = record.get("exit_code")
        return "succeeded" if code == 0 else f"exit {code}"
    if kind == "refused":
        return f"refused ({record.get('reason')})"
    if reason == "run-unfinished":
        return "unfinished"
    return str(kind) if kind is not None else "not a record"


def _count(entries: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts = Counter(str(e.get(key, "(none)")) for e in entries)
    return dict(sorted(counts.items()))


def _superseded(
    records: list[dict[str, Any]], head: VerifiedRelease | None
) -> list[dict[str, Any]]:
    """Runs (started records) of a release other than the head, and their snippet in the head."""
    if head is None:
        return []
    out = []
    for r in records:
        if r["type"] != "started" or r.get("release") in (None, head.version):
            continue
        runbook = head.manifest.runbook(str(r.get("slug")))
        snippet = runbook.snippet(str(r.get("snippet_id"))) if runbook is not None else None
        if snippet is None:
            in_head = "absent"
        else:
            in_head = "same" if r.get("snippet_digest") == snippet.digest else "changed"
        out.append({**r, "newest": head.version, "in newest": in_head})
    return out


def _clean(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: clean(v) if isinstance(v, str) else v for k, v in entry.items()}


def render_markdown(doc: dict[str, Any]) -> str:
    """The summary as Markdown: context, counts, then each list as a table."""
    out = ["# sealbook audit summary", ""]
    window = doc["window"]
    out.append(
        f"Window: {window['since'] or 'the beginning'} to {window['until'] or 'the end'}; "
        f"newest release: {doc['head'] or 'unknown (the chain did not verify)'}; "
        f"summary digest `{doc['digest']}`."
    )
    out += ["", "## What was checked", "", "| fact | value |", "|---|---|"]
    out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in sorted(doc["context"].items())]
    counts = doc["counts"]
    out += ["", "## Counts", ""]
    out.append(
        f"{counts['records']} records, {counts['failed']} failed; "
        f"{counts['attempts']} run attempts (started or refused)."
    )
    for name in ("host", "user", "invoker", "runbook", "release", "verdict"):
        table = counts[f"per {name}"]
        out += ["", f"| {name} | count |", "|---|---|"]
        out += [f"| {_cell(k)} | {v} |" for k, v in table.items()] or ["| (none) | 0 |"]
    for title, key in (
        ("Refusals", "refusals"),
        ("Unfinished runs", "unfinished"),
        ("Recoveries (torn writes)", "recoveries"),
        ("Non-zero exits", "nonzero_exits"),
        ("Runs of superseded releases", "superseded"),
        ("Failed records", None),
    ):
        rows = doc[key] if key else [r for r in doc["records"] if not r["ok"]]
        out += ["", f"## {title} ({len(rows)})", ""]
        if not rows:
            out.append("None.")
            continue
        extra = ["newest", "in newest"] if key == "superseded" else []
        columns = ["item", "time", "host", "user", "invoker", "slug", "release", "snippet_id"]
        columns += ["outcome", "reason", *extra]
        out += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _cell(value: object) -> str:
    text = clean(str(value))
    for raw, escaped in (("\\", "\\\\"), ("|", "\\|"), ("`", "\\`"), ("<", "&lt;"), (">", "&gt;")):
        text = text.replace(raw, escaped)
    return text
