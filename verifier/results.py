"""Verifier results: one per checked item, rendered as text, JSON or JUnit XML.

JSON output is deterministic (same inputs, same bytes; no "now") and carries its
own digest: ``digest`` is sha256 over the canonical JSON of the document without
that field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from verifier.digests import canonical_json, digest
from verifier.errors import EXIT_FAILED, EXIT_OK
from verifier.reasons import CODES

# Codes that are reported but do not fail the item.
INFORMATIONAL = frozenset({"verified", "verified-unanchored", "run-refused", "log-recovered"})


@dataclass(frozen=True)
class Result:
    """The verdict on one item (a release, a site file, a log record, a bundle)."""

    kind: str
    item: str
    reason: str
    detail: str = ""
    dev: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.reason not in CODES:
            raise ValueError(f"undocumented reason code {self.reason!r}")

    @property
    def ok(self) -> bool:
        """True unless the reason code is a failure."""
        return self.reason in INFORMATIONAL

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "ok": self.ok,
            "reason": self.reason,
            "detail": self.detail,
            "dev": self.dev,
            "facts": self.facts,
        }


@dataclass
class Report:
    """All results of one verifier command, plus facts about the trust used."""

    command: str
    results: list[Result] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def add(self, result: Result) -> None:
        self.results.append(result)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def exit_code(self) -> int:
        return EXIT_FAILED if self.failed or not self.results else EXIT_OK

    def summary(self) -> str:
        total = len(self.results)
        ok = total - len(self.failed)
        noun = {"logs": "records", "site": "files", "releases": "releases"}.get(
            self.command, "items"
        )
        line = f"{ok}/{total} {noun} verified; {len(self.failed)} failed"
        if any(r.dev for r in self.results):
            line += " [DEV: verified against a dev root, not a production trust root]"
        return line

    def render(self, fmt: str) -> str:
        """Render as ``text``, ``json`` or ``junit``."""
        if fmt == "json":
            return render_json(self)
        if fmt == "junit":
            return render_junit(self)
        return render_text(self)


def _clean(text: str) -> str:
    # Hostile inputs (log fields, file names) must not forge lines in our output.
    return "".join(ch if ch.isprintable() else f"<U+{ord(ch):04X}>" for ch in text)


def render_text(report: Report) -> str:
    lines = [f"{k}: {_clean(str(v))}" for k, v in sorted(report.context.items())]
    for r in report.results:
        mark = "ok  " if r.ok else "FAIL"
        dev = " [DEV]" if r.dev else ""
        detail = f" - {_clean(r.detail)}" if r.detail else ""
        lines.append(f"{mark} {r.kind} {_clean(r.item)}: {r.reason}{dev}{detail}")
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def render_json(report: Report) -> str:
    doc: dict[str, Any] = {
        "schema": "sealbook.verify-report/v1",
        "command": report.command,
        "context": report.context,
        "results": [r.to_json() for r in report.results],
        "summary": {
            "total": len(report.results),
            "verified": len(report.results) - len(report.failed),
            "failed": len(report.failed),
            "dev": any(r.dev for r in report.results),
        },
    }
    doc = _utf8(doc)
    doc["digest"] = digest(canonical_json(doc))
    return canonical_json(doc).decode("utf-8") + "\n"


def _utf8(value: Any) -> Any:
    """``value`` with lone surrogates (undecodable file names) escaped: JSON needs UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_utf8(v) for v in value]
    return value


def junit_properties(context: dict[str, Any]) -> list[str]:
    """The report's context as JUnit ``<properties>`` (what was checked, against what)."""
    if not context:
        return []
    out = ["  <properties>"]
    for key, value in sorted(context.items()):
        out.append(
            f"    <property name={quoteattr(_clean(str(key)))} value={quoteattr(_clean(str(value)))}/>"
        )
    out.append("  </properties>")
    return out


def junit_case(r: Result) -> list[str]:
    """One ``<testcase>``: a failure element when it failed, its reason when it is not plain."""
    name = quoteattr(_clean(r.item))
    classname = quoteattr(r.kind)
    if r.ok and r.reason == "verified" and not r.detail:
        return [f"  <testcase classname={classname} name={name}/>"]
    out = [f"  <testcase classname={classname} name={name}>"]
    if r.ok:
        text = f"{r.reason}: {r.detail}" if r.detail else r.reason
        out.append(f"    <system-out>{escape(_clean(text))}</system-out>")
    else:
        out.append(
            f"    <failure type={quoteattr(r.reason)} message={quoteattr(_clean(r.detail))}>"
            f"{escape(_clean(r.detail))}</failure>"
        )
    out.append("  </testcase>")
    return out


def render_junit(report: Report) -> str:
    failures = len(report.failed)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<testsuite name={quoteattr('sealbook-verify ' + report.command)} "
        f'tests="{len(report.results)}" failures="{failures}" errors="0">',
        *junit_properties(report.context),
    ]
    for r in report.results:
        out += junit_case(r)
    out.append("</testsuite>")
    return "\n".join(out) + "\n"
