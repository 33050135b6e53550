"""Runbook front matter: YAML (``---``) or TOML (``+++``, Hugo), normalised to JSON types.

Normalisation (documented in docs/runbook-format.md):

- dates become ``YYYY-MM-DD``; times ``HH:MM:SS[.ffffff]``; datetimes ISO 8601, converted to
  UTC with a ``Z`` when they carry a zone, as written (no zone) otherwise;
- tuples become lists; mapping keys become strings (``1`` -> ``"1"``, ``true`` -> ``"true"``);
- integers must fit in JSON's exact range (|n| <= 2**53 - 1), floats must be finite;
- anything else (binary, sets, custom tags) is refused;
- ``title``, ``summary``, ``service``, ``severity`` are strings (a number is written as a
  string); ``owners``, ``tags``, ``alerts`` are lists of strings (one string becomes a list).

YAML is read with ``yaml.safe_load`` behind two guards against alias bombs: at most
``MAX_ANCHORS`` anchors and aliases, and at most ``MAX_NODES`` values after expansion.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass
from typing import Any

import yaml

MAX_BYTES = 64 * 1024
MAX_ANCHORS = 100
MAX_NODES = 10_000
MAX_DEPTH = 32
KNOWN_KEYS = ("title", "summary", "service", "severity", "owners", "tags", "alerts")
_STRING_KEYS = ("title", "summary", "service", "severity")
_LIST_KEYS = ("owners", "tags", "alerts")
_JSON_INT_MAX = 2**53 - 1
_TOML_LINE_RE = re.compile(r"line (\d+)")


class FrontMatterError(Exception):
    """Front matter that cannot be used; ``line`` is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class FrontMatter:
    """Where the front matter sits and what it says."""

    metadata: dict[str, Any]
    body_start: int
    """0-based index of the first body line (0 when there is no front matter)."""


def _closing(lines: list[str], delimiters: tuple[str, ...]) -> int:
    for index in range(1, len(lines)):
        if lines[index].rstrip() in delimiters:
            return index
    raise FrontMatterError(1, "front matter opened on line 1 is never closed")


def body_start(lines: list[str]) -> int:
    """The 0-based line where the body starts, found by the same delimiters, without parsing.

    For signed sources, whose front matter was parsed at release time; 0 if it never closes.
    """
    first = lines[0].lstrip("\ufeff").rstrip() if lines else ""
    if first not in ("---", "+++"):
        return 0
    try:
        return _closing(lines, ("+++",) if first == "+++" else ("---", "...")) + 1
    except FrontMatterError:
        return 0


def read_front_matter(lines: list[str]) -> FrontMatter:
    """Split off and parse the front matter of a runbook's ``lines`` (without line endings).

    Raises FrontMatterError with the file line of the problem.
    """
    first = lines[0].lstrip("\ufeff").rstrip() if lines else ""
    if first not in ("---", "+++"):
        return FrontMatter({}, 0)
    toml = first == "+++"
    end = _closing(lines, ("+++",) if toml else ("---", "..."))
    text = "\n".join(lines[1:end]) + "\n"
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise FrontMatterError(1, f"front matter is larger than {MAX_BYTES // 1024} KiB")
    raw = _load_toml(text) if toml else _load_yaml(text)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FrontMatterError(1, "front matter must be a mapping of keys to values")
    metadata = normalise(raw)
    if not isinstance(metadata, dict):  # pragma: no cover - normalise keeps mappings
        raise FrontMatterError(1, "front matter must be a mapping of keys to values")
    return FrontMatter(_known_keys(metadata), end + 1)


def _load_toml(text: str) -> Any:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE_RE.search(str(exc))
        line = int(match.group(1)) + 1 if match else 1
        raise FrontMatterError(line, f"TOML front matter does not parse: {exc}") from None
    except RecursionError:
        raise FrontMatterError(1, "TOML front matter is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise FrontMatterError(1, f"TOML front matter has a bad value: {exc}") from None


def _load_yaml(text: str) -> Any:
    try:
        anchors = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                anchors += 1
        if anchors > MAX_ANCHORS:
            raise FrontMatterError(
                1, f"YAML front matter uses more than {MAX_ANCHORS} anchors and aliases"
            )
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise FrontMatterError(line, f"YAML front matter does not parse: {problem}") from None
    except RecursionError:
        raise FrontMatterError(1, "YAML front matter is nested too deeply") from None
    except ValueError as exc:  # a date like 2024-02-30, an integer of 5000 digits
        raise FrontMatterError(1, f"YAML front matter has a bad value: {exc}") from None


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (the last would win)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key_node.value!r} appears twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _Budget:
    """Counts values during normalisation, so shared aliases cannot explode."""

    def __init__(self) -> None:
        self.left = MAX_NODES

    def spend(self, depth: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise FrontMatterError(1, f"front matter expands to more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise FrontMatterError(1, f"front matter is nested deeper than {MAX_DEPTH} levels")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, int | float | dt.date | dt.time):
        return str(_scalar(key))
    raise FrontMatterError(1, f"front matter key of type {type(key).__name__} is not allowed")


def _datetime(value: dt.datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.isoformat()
    return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        if abs(value) > _JSON_INT_MAX:
            raise FrontMatterError(1, f"front matter integer {value} is outside JSON's range")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FrontMatterError(1, f"front matter number {value} is not finite")
        return value
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise FrontMatterError(
        1, f"front matter value of type {type(value).__name__} has no JSON form; quote it"
    )


def normalise(value: Any, budget: _Budget | None = None, depth: int = 0) -> Any:
    """``value`` with only JSON types left (see the module docstring for the rules)."""
    budget = budget or _Budget()
    budget.spend(depth)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = _key(key)
            if name in out:
                raise FrontMatterError(1, f"front matter key {name!r} appears twice")
            out[name] = normalise(item, budget, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [normalise(item, budget, depth + 1) for item in value]
    return _scalar(value)


def _known_keys(metadata: dict[str, Any]) -> dict[str, Any]:
    for key in _STRING_KEYS:
        value = metadata.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            metadata[key] = str(value)
        elif key in metadata and not isinstance(value, str):
            raise FrontMatterError(1, f"front matter '{key}' must be a string")
    for key in _LIST_KEYS:
        value = metadata.get(key)
        if isinstance(value, str):
            metadata[key] = [value]
        elif key in metadata and not (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        ):
            raise FrontMatterError(1, f"front matter '{key}' must be a string or a list of strings")
    return metadata
