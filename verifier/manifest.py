"""The release manifest (``sealbook.release/v1``): the signed artifact of a release.

``manifest.json`` is canonical JSON (RFC 8785) of the structure below. It carries
every snippet's *signed text*, so nothing downstream ever re-parses Markdown to
learn what was signed.

```
{
  "schema": "sealbook.release/v1",
  "version": "2026.11.0",                      # == folder name, [0-9A-Za-z._-]
  "created": "2026-11-28T12:00:00Z",           # as claimed by the releaser
  "source_commit": "<git sha>" | null,
  "previous": null | {"version": "...", "manifest_digest": "sha256:..."},
  "runbooks": [                                # sorted by slug
    {"slug": "db/failover", "title": "...", "metadata": {...},
     "path": "runbooks/db/failover.md", "digest": "sha256:...", "revision": 2,
     "snippets": [
        {"id": "promote-replica", "language": "bash", "executable": true,
         "line": 12, "params": ["CLUSTER"], "digest": "sha256:...", "text": "...\n"}
        # and "secrets": ["TOKEN"] when some declared parameters are secret (else absent)
     ]}
  ],
  "retired": [{"slug": "...", "title": "...", "last_version": "...", "digest": "sha256:..."}]
}
```
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from verifier.digests import canonical_json, digest, is_digest, signed_text
from verifier.errors import InputError

SCHEMA = "sealbook.release/v1"
MANIFEST_NAME = "manifest.json"
BUNDLE_NAME = "manifest.json.sigstore.json"
SOURCES_DIR = "runbooks"

VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,127}")
SLUG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*")
SNIPPET_ID_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
PARAM_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")
EXECUTABLE_LANGUAGES = frozenset({"bash", "sh", "shell", "console", "shell-session"})


def valid_version(value: str) -> bool:
    """A release version: ``[0-9A-Za-z._-]``, no ``..``, at most 128 characters."""
    return VERSION_RE.fullmatch(value) is not None and ".." not in value


def valid_slug(value: str) -> bool:
    """A runbook slug: ``[A-Za-z0-9._/-]`` segments, no ``..``, no leading ``/``."""
    return (
        len(value) <= 200
        and SLUG_RE.fullmatch(value) is not None
        and ".." not in value
        and "." not in value.split("/")
    )


def valid_snippet_id(value: str) -> bool:
    """A snippet id: ``[A-Za-z0-9._-]``, at most 128 characters."""
    return SNIPPET_ID_RE.fullmatch(value) is not None and ".." not in value


@dataclass(frozen=True)
class Snippet:
    """One fenced code block as signed."""

    id: str
    language: str
    executable: bool
    line: int
    """1-based line of the opening fence in the frozen source."""
    params: tuple[str, ...]
    """Environment variables the snippet declares; `sealbook run` requires them."""
    digest: str
    """``sha256:`` over the UTF-8 bytes of ``text``."""
    text: str
    """The signed text: LF line ends, exactly one trailing LF."""
    secrets: tuple[str, ...] = ()
    """Declared parameters whose values are secret (``secret="TOKEN"``), sorted: `sealbook run`
    records a digest of their values, never the values, and masks them in captured output.
    The manifest carries the key only when there is one (older manifests stay valid)."""

    @property
    def copy_text(self) -> str:
        """What a copy button yields: the signed text minus its final LF."""
        return self.text[:-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "language": self.language,
            "executable": self.executable,
            "line": self.line,
            "params": list(self.params),
            "digest": self.digest,
            "text": self.text,
        } | ({"secrets": list(self.secrets)} if self.secrets else {})


@dataclass(frozen=True)
class Runbook:
    """One runbook as frozen in a release."""

    slug: str
    title: str
    metadata: dict[str, Any]
    path: str
    """Frozen source, relative to the release folder: ``runbooks/<slug>.md``."""
    digest: str
    revision: int
    snippets: tuple[Snippet, ...]

    def snippet(self, snippet_id: str) -> Snippet | None:
        """The snippet with ``snippet_id``, if any."""
        for snippet in self.snippets:
            if snippet.id == snippet_id:
                return snippet
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "metadata": self.metadata,
            "path": self.path,
            "digest": self.digest,
            "revision": self.revision,
            "snippets": [s.to_json() for s in self.snippets],
        }


@dataclass(frozen=True)
class LinkedFile:
    """A file a runbook links or shows (an image, a script), frozen beside the sources."""

    path: str
    """Relative to the release folder: ``runbooks/<path in the runbooks folder>``."""
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest}


@dataclass(frozen=True)
class Retired:
    """A runbook removed since the previous release."""

    slug: str
    title: str
    last_version: str
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "last_version": self.last_version,
            "digest": self.digest,
        }


@dataclass(frozen=True)
class Previous:
    """The predecessor of a release in the chain."""

    version: str
    manifest_digest: str


@dataclass(frozen=True)
class Manifest:
    """A release manifest (``sealbook.release/v1``)."""

    version: str
    created: str
    source_commit: str | None
    previous: Previous | None
    runbooks: tuple[Runbook, ...]
    retired: tuple[Retired, ...] = ()
    files: tuple[LinkedFile, ...] = ()
    """Linked files, sorted by path; the key is written only when there are some (so a
    release without any keeps the bytes it always had)."""
    schema: str = SCHEMA
    _by_slug: dict[str, Runbook] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_slug.update({rb.slug: rb for rb in self.runbooks})

    def runbook(self, slug: str) -> Runbook | None:
        """The runbook with ``slug``, if this release has it."""
        return self._by_slug.get(slug)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "version": self.version,
            "created": self.created,
            "source_commit": self.source_commit,
            "previous": None
            if self.previous is None
            else {
                "version": self.previous.version,
                "manifest_digest": self.previous.manifest_digest,
            },
            "runbooks": [rb.to_json() for rb in self.runbooks],
            "retired": [r.to_json() for r in self.retired],
            **({"files": [f.to_json() for f in self.files]} if self.files else {}),
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes written as ``manifest.json`` (and signed)."""
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes, source: str = MANIFEST_NAME) -> Manifest:
        """Parse and validate ``manifest.json``; raise `InputError` naming ``source``.

        Checks the structure and every snippet's digest against its text; it does
        not check the signature (see `verifier.release`).
        """
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_no_constant)
            # Strictly decoded UTF-8 holds no surrogates: only a \uD8xx-\uDFxx escape can
            # make one, and canonical JSON never writes those. Walk the tree only then.
            if _SURROGATE_ESCAPE_RE.search(text):
                _require_unicode(data)
        except RecursionError:
            raise InputError(
                source, "not valid JSON (nested too deeply)", "restore it from the release"
            ) from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                source, f"not valid JSON ({exc})", "restore it from the release"
            ) from None
        return _parse_manifest(data, source)

    @classmethod
    def from_checked_bytes(cls, raw: bytes) -> Manifest:
        """Bytes that `from_bytes` (and the snippet digest check) accepted before, unchecked.

        Only for bytes a positive verdict of this checking code covers (the verdict
        cache of `sealbook run` and `sealbook build`, keyed by their digest): the checks are
        a function of the bytes alone, so they are not repeated.
        """
        data = json.loads(raw)
        prev = data["previous"]
        return cls(
            version=data["version"],
            created=data["created"],
            source_commit=data["source_commit"],
            previous=None if prev is None else Previous(prev["version"], prev["manifest_digest"]),
            runbooks=tuple(
                Runbook(
                    r["slug"],
                    r["title"],
                    r["metadata"],
                    r["path"],
                    r["digest"],
                    r["revision"],
                    tuple(
                        Snippet(
                            s["id"],
                            s["language"],
                            s["executable"],
                            s["line"],
                            tuple(s["params"]),
                            s["digest"],
                            s["text"],
                            tuple(s.get("secrets", ())),
                        )
                        for s in r["snippets"]
                    ),
                )
                for r in data["runbooks"]
            ),
            retired=tuple(
                Retired(r["slug"], r["title"], r["last_version"], r["digest"])
                for r in data["retired"]
            ),
            files=tuple(LinkedFile(f["path"], f["digest"]) for f in data.get("files", ())),
        )


_SURROGATE_ESCAPE_RE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _require_unicode(value: object) -> None:
    """Refuse lone surrogates (``"\\ud800"``): they have no UTF-8 bytes to digest or sign."""
    if isinstance(value, str):
        value.encode("utf-8")  # UnicodeEncodeError is a ValueError
    elif isinstance(value, dict):
        for key, item in value.items():
            _require_unicode(key)
            _require_unicode(item)
    elif isinstance(value, list):
        for item in value:
            _require_unicode(item)


class _Shape:
    """Small typed accessors that turn a wrong shape into one `InputError`."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> InputError:
        return InputError(
            self.source,
            f"{where}: {problem}",
            "the manifest is malformed; restore it from the release",
        )

    def obj(self, value: object, where: str, keys: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "expected an object")
        extra = set(value) - keys
        missing = keys - set(value)
        if extra:
            raise self.fail(where, f"unknown field(s) {sorted(extra)}")
        if missing:
            raise self.fail(where, f"missing field(s) {sorted(missing)}")
        return value

    def str_(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.fail(where, "expected a string")
        return value

    def int_(self, value: object, where: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise self.fail(where, "expected a non-negative integer")
        return value

    def digest(self, value: object, where: str) -> str:
        if not is_digest(value):
            raise self.fail(where, "expected sha256:<64 hex>")
        assert isinstance(value, str)
        return value

    def list_(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "expected a list")
        return value


def _parse_files(s: _Shape, value: object, sources: set[str]) -> tuple[LinkedFile, ...]:
    """``files``: absent, or a non-empty list sorted by path of distinct files under
    ``runbooks/`` that are not runbook sources (one spelling per manifest)."""
    if value is None:
        return ()
    items = s.list_(value, "files")
    if not items:
        raise s.fail("files", "an empty list is written as no files key")
    files = []
    for i, item in enumerate(items):
        f = s.obj(item, f"files[{i}]", {"path", "digest"})
        path = s.str_(f["path"], f"files[{i}].path")
        inner = path.removeprefix(f"{SOURCES_DIR}/")
        if inner == path or not valid_slug(inner) or path in sources:
            raise s.fail(f"files[{i}].path", f"not a linked file path {path!r}")
        files.append(LinkedFile(path, s.digest(f["digest"], f"files[{i}].digest")))
    paths = [f.path for f in files]
    if paths != sorted(set(paths)):
        raise s.fail("files", "paths must be distinct and sorted")
    return tuple(files)


def _parse_manifest(data: object, source: str) -> Manifest:
    s = _Shape(source)
    # The schema first: another schema's fields are not "missing" or "unknown" to it.
    if isinstance(data, dict) and data.get("schema") != SCHEMA:
        raise InputError(
            source,
            f"unknown schema {str(data.get('schema'))[:80]!r} (expected {SCHEMA!r})",
            "use a sealbook that understands this release",
        )
    keys = {"schema", "version", "created", "source_commit", "previous", "runbooks", "retired"}
    top = s.obj(
        data,
        "manifest",
        keys | ({"files"} if isinstance(data, dict) and "files" in data else set()),
    )
    version = s.str_(top["version"], "version")
    if not valid_version(version):
        raise s.fail("version", f"invalid version {version!r}")
    commit = top["source_commit"]
    if commit is not None:
        commit = s.str_(commit, "source_commit")
    previous = None
    if top["previous"] is not None:
        prev = s.obj(top["previous"], "previous", {"version", "manifest_digest"})
        prev_version = s.str_(prev["version"], "previous.version")
        if not valid_version(prev_version):
            raise s.fail("previous.version", f"invalid version {prev_version!r}")
        previous = Previous(
            version=prev_version,
            manifest_digest=s.digest(prev["manifest_digest"], "previous.manifest_digest"),
        )
    runbooks = []
    seen: set[str] = set()
    for i, item in enumerate(s.list_(top["runbooks"], "runbooks")):
        rb = _parse_runbook(s, item, f"runbooks[{i}]")
        if rb.slug.lower() in seen:
            raise s.fail(f"runbooks[{i}]", f"duplicate slug {rb.slug!r}")
        seen.add(rb.slug.lower())
        runbooks.append(rb)
    retired = []
    for i, item in enumerate(s.list_(top["retired"], "retired")):
        r = s.obj(item, f"retired[{i}]", {"slug", "title", "last_version", "digest"})
        retired_slug = s.str_(r["slug"], f"retired[{i}].slug")
        last_version = s.str_(r["last_version"], f"retired[{i}].last_version")
        if not valid_slug(retired_slug):
            raise s.fail(f"retired[{i}].slug", f"invalid slug {retired_slug!r}")
        if not valid_version(last_version):
            raise s.fail(f"retired[{i}].last_version", f"invalid version {last_version!r}")
        retired.append(
            Retired(
                slug=retired_slug,
                title=s.str_(r["title"], f"retired[{i}].title"),
                last_version=last_version,
                digest=s.digest(r["digest"], f"retired[{i}].digest"),
            )
        )
    files = _parse_files(s, top.get("files"), {rb.path for rb in runbooks})
    return Manifest(
        version=version,
        created=s.str_(top["created"], "created"),
        files=files,
        source_commit=commit,
        previous=previous,
        runbooks=tuple(runbooks),
        retired=tuple(retired),
    )


def _parse_runbook(s: _Shape, item: object, where: str) -> Runbook:
    r = s.obj(item, where, {"slug", "title", "metadata", "path", "digest", "revision", "snippets"})
    slug = s.str_(r["slug"], f"{where}.slug")
    if not valid_slug(slug):
        raise s.fail(f"{where}.slug", f"invalid slug {slug!r}")
    path = s.str_(r["path"], f"{where}.path")
    if path != f"{SOURCES_DIR}/{slug}.md":
        raise s.fail(f"{where}.path", f"expected {SOURCES_DIR}/{slug}.md")
    if not isinstance(r["metadata"], dict):
        raise s.fail(f"{where}.metadata", "expected an object")
    snippets = []
    ids: set[str] = set()
    for j, sn in enumerate(s.list_(r["snippets"], f"{where}.snippets")):
        snippet = _parse_snippet(s, sn, f"{where}.snippets[{j}]")
        if snippet.id in ids:
            raise s.fail(f"{where}.snippets[{j}]", f"duplicate snippet id {snippet.id!r}")
        ids.add(snippet.id)
        snippets.append(snippet)
    return Runbook(
        slug=slug,
        title=s.str_(r["title"], f"{where}.title"),
        metadata=r["metadata"],
        path=path,
        digest=s.digest(r["digest"], f"{where}.digest"),
        revision=s.int_(r["revision"], f"{where}.revision"),
        snippets=tuple(snippets),
    )


_SNIPPET_KEYS = frozenset({"id", "language", "executable", "line", "params", "digest", "text"})
_DIGEST_SHAPE = re.compile(r"sha256:[0-9a-f]{64}")


def _parse_snippet(s: _Shape, item: object, where: str) -> Snippet:
    """One snippet; the common, well-formed case is checked inline (tens of thousands per
    manifest), anything else goes through `_check_snippet` for the exact diagnostic."""
    if type(item) is dict and item.keys() == _SNIPPET_KEYS:
        sid, text, params = item["id"], item["text"], item["params"]
        line, dig = item["line"], item["digest"]
        if (
            type(sid) is str
            and SNIPPET_ID_RE.fullmatch(sid) is not None
            and ".." not in sid
            and type(item["executable"]) is bool
            and type(params) is list
            and all(type(p) is str and PARAM_RE.fullmatch(p) is not None for p in params)
            and type(text) is str
            and "\r" not in text
            and text.endswith("\n")
            and not text.endswith("\n\n")
            and type(item["language"]) is str
            and type(line) is int
            and line >= 0
            and type(dig) is str
            and _DIGEST_SHAPE.fullmatch(dig) is not None
        ):
            return Snippet(
                sid, item["language"], item["executable"], line, tuple(params), dig, text
            )
    return _check_snippet(s, item, where)


def _check_snippet(s: _Shape, item: object, where: str) -> Snippet:
    optional = {"secrets"} if isinstance(item, dict) and "secrets" in item else set()
    r = s.obj(item, where, set(_SNIPPET_KEYS) | optional)
    snippet_id = s.str_(r["id"], f"{where}.id")
    if not valid_snippet_id(snippet_id):
        raise s.fail(f"{where}.id", f"invalid snippet id {snippet_id!r}")
    if not isinstance(r["executable"], bool):
        raise s.fail(f"{where}.executable", "expected true or false")
    params = tuple(s.str_(p, f"{where}.params") for p in s.list_(r["params"], f"{where}.params"))
    if any(PARAM_RE.fullmatch(p) is None for p in params):
        raise s.fail(f"{where}.params", "parameter names are [A-Z_][A-Z0-9_]*")
    text = s.str_(r["text"], f"{where}.text")
    if signed_text(text) != text:
        raise s.fail(f"{where}.text", "not a signed text (LF line ends, one trailing LF)")
    secrets: tuple[str, ...] = ()
    if optional:
        secrets = tuple(
            s.str_(p, f"{where}.secrets") for p in s.list_(r["secrets"], f"{where}.secrets")
        )
        if not secrets or list(secrets) != sorted(set(secrets)) or not set(secrets) <= set(params):
            raise s.fail(
                f"{where}.secrets", "expected declared parameters, sorted, unique, at least one"
            )
    # The digest is *not* checked here: a mismatch is a verification failure with
    # its own reason code (snippet-digest-mismatch), not a malformed input.
    return Snippet(
        id=snippet_id,
        language=s.str_(r["language"], f"{where}.language"),
        executable=r["executable"],
        line=s.int_(r["line"], f"{where}.line"),
        params=params,
        digest=s.digest(r["digest"], f"{where}.digest"),
        text=text,
        secrets=secrets,
    )


def manifest_digest(raw: bytes) -> str:
    """The manifest digest: over ``manifest.json`` exactly as written."""
    return digest(raw)
