"""Prove a built site equals the signed releases (pure: never imports builder or mkdocs).

`verify_site` steps, one result per file (the highest-precedence problem wins):
  (1) read ``site-manifest.json`` (unreadable or malformed: `InputError`); a preview build
      fails as a whole (``site-unsigned-preview``);
  (2) the exact file set: every listed file exists (``site-file-missing``) with its digest
      (``site-file-modified``); nothing else is there (``site-file-unexpected``);
  (3) every file is one this chain and this sealbook produce, with the right role: pages
      and aliases per the URL scheme (`verifier.sitelayout`), missing ones reported;
  (4) pages: no inline or foreign script, no event handler or script URL, the exact
      Content-Security-Policy (``site-page-unsafe``); no preview marker
      (``site-unsigned-preview``); snippet texts, digests, copy texts and run commands equal
      the signed manifests (``site-content-mismatch``); latest pages, the catalog and alert
      pages point at the chain head (``site-latest-mismatch``);
  (5) version data and search index equal what the chain yields; release files equal the
      verified releases; trusted roots are roots of the policy (``site-content-mismatch``);
  (6) theme assets equal the digests shipped for the asset sets the site names
      (``site-asset-unknown``).
"""

from __future__ import annotations

import html
import multiprocessing as mp
import os
import posixpath
import re
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path

from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.errors import InputError
from verifier.files import read_limited, read_regular
from verifier.manifest import Manifest, Runbook
from verifier.policy import TrustPolicy
from verifier.reasons import first
from verifier.release import VerifiedRelease
from verifier.results import Result
from verifier.siteassets import expected_digest
from verifier.sitemanifest import SiteFile, SiteManifest

MAX_SITE_MANIFEST = 256 << 20
MAX_PAGE = 64 << 20
_UNSAFE_URL = re.compile(r"^\s*(javascript|data|vbscript)\s*:", re.IGNORECASE)
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "xlink:href", "poster"})
_SCRIPT_ROLES = frozenset({"asset", "theme-asset", "version-data", "search-index"})


@dataclass(frozen=True)
class Expected:
    """What the chain says a site path must be."""

    role: str
    kind: str
    slug: str = ""
    version: str = ""
    runbook: Runbook | None = None


@dataclass
class _Figure:
    attrs: dict[str, str]
    copy_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)


class _PageParser(HTMLParser):
    """Collects the hooks and the safety facts of one page.

    `parse_page` feeds it through `_fast_feed` when the page is in the strict subset of HTML
    sealbook writes, else through `HTMLParser` itself; both make the same calls.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.unsafe: list[str] = []
        self.scripts: list[str] = []
        self.csp: list[str] = []
        self.preview = False
        self.refresh: list[str] = []
        self.figures: list[_Figure] = []
        self.pre_outside = 0
        self.roots: list[dict[str, str]] = []
        self.rows: list[dict[str, str]] = []
        self.links: dict[str, list[dict[str, str]]] = {}
        self.texts: dict[str, str] = {}
        self._capture: list[tuple[str, str, int]] = []
        self._stack: list[str] = []
        self._figure_depth: int | None = None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        classes = attrs.get("class", "").split()
        for name, value in attrs.items():
            if name.startswith("on"):
                self.unsafe.append(f"<{tag} {name}=...> event handler")
            if name in _URL_ATTRS and _UNSAFE_URL.match(value):
                self.unsafe.append(f"<{tag} {name}={value[:40]!r}>")
        if tag in _SPECIAL_TAGS:
            self._special_tag(tag, attrs, classes)
        if classes:
            if "sb-page" in classes:
                self.roots.append(attrs)
            if tag in _HOOK_TAGS:
                self._hook_tag(tag, attrs, classes)
        if self._capture:
            for key, _tag, _depth in self._capture:
                self.texts.setdefault(key, "")
        if tag not in _VOID:
            self._stack.append(tag)

    def _special_tag(self, tag: str, attrs: dict[str, str], classes: list[str]) -> None:
        if tag in ("iframe", "object", "embed", "base", "frame"):
            self.unsafe.append(f"<{tag}> element")
        elif tag == "form" and "md-search__form" not in classes:
            self.unsafe.append("<form> other than the search box")
        elif tag == "script":
            if "src" in attrs:
                self.scripts.append(attrs["src"])
            elif attrs.get("type") != "application/json":
                self.unsafe.append("inline <script>")
        elif tag == "meta":
            if attrs.get("http-equiv", "").lower() == "content-security-policy":
                self.csp.append(attrs.get("content", ""))
            if attrs.get("http-equiv", "").lower() == "refresh":
                self.refresh.append(attrs.get("content", ""))
            if attrs.get("name") == layout.PREVIEW_META:
                self.preview = True
        elif tag == "pre" and self._figure_depth is None:
            self.pre_outside += 1

    def _hook_tag(self, tag: str, attrs: dict[str, str], classes: list[str]) -> None:
        if tag == "figure" and "sb-snippet" in classes:
            self.figures.append(_Figure(attrs))
            self._figure_depth = len(self._stack)
        elif tag == "tr" and "sb-catalog-row" in classes:
            self.rows.append(attrs)
        elif tag == "a":
            for hook in ("sb-latest-link", "sb-alert-target", "sb-revision-link"):
                if hook in classes:
                    self.links.setdefault(hook, []).append(attrs)
        elif tag == "template" and "sb-copy-text" in classes:
            element_id = attrs.get("id", "")
            self._capture.append((element_id, tag, len(self._stack)))
            if self.figures and self._figure_depth is not None:
                self.figures[-1].copy_ids.append(element_id)
        elif tag == "code" and "sb-run" in classes:
            element_id = attrs.get("id", "")
            self._capture.append((element_id, tag, len(self._stack)))
            if self.figures and self._figure_depth is not None:
                self.figures[-1].run_ids.append(element_id)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self._stack:
            return
        while self._stack:
            popped = self._stack.pop()
            depth = len(self._stack)
            if self._capture:
                self._capture = [c for c in self._capture if c[2] < depth or c[1] != popped]
            if self._figure_depth is not None and depth <= self._figure_depth:
                self._figure_depth = None
            if popped == tag:
                break

    def handle_data(self, data: str) -> None:
        for key, _tag, _depth in self._capture:
            self.texts[key] = self.texts.get(key, "") + data


_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)
_SPECIAL_TAGS = frozenset({"iframe", "object", "embed", "base", "frame", "form", "script"}) | {
    "meta",
    "pre",
}
_HOOK_TAGS = frozenset({"figure", "tr", "a", "template", "code"})
# A substring every hook class of the tag contains (`_PageParser._hook_tag`).
_HOOK_HINTS = {
    "figure": "sb-snippet",
    "tr": "sb-catalog-row",
    "a": "sb-",
    "template": "sb-copy-text",
    "code": "sb-run",
}

# The strict subset of HTML that `_fast_feed` tokenizes itself (everything sealbook and
# mkdocs-material write): text without "<"; `<!doctype ...>`; start tags with ASCII names and
# space-separated attributes whose values are quoted without "<" or bare ASCII; end tags
# `</name>`; script/style content without "<". Whitespace inside tags is only the five ASCII
# spaces HTML knows. On these tokens `HTMLParser` makes exactly the same calls; a page with
# anything else (comments, CDATA, processing instructions, a stray "<", unusual spacing or
# names) goes through `HTMLParser` itself.
_WS = r"[ \t\n\r\f]"
_NAME = r"[a-zA-Z][a-zA-Z0-9-]*+"
_ATTR_NAME = r"[a-zA-Z_:][-a-zA-Z0-9_:.]*+"
_ATTR_VALUE = r""""[^"<]*+"|'[^'<]*+'|[A-Za-z0-9._:/#%?&;+,~!@$*()\[\]{}|^-]++"""
_ATTR = f"{_WS}++{_ATTR_NAME}(?:{_WS}*+={_WS}*+(?:{_ATTR_VALUE}))?+"
_TOKEN = (
    "([^<]++)"  # text
    f"|<({_NAME})((?:{_ATTR})*+){_WS}*+(/?)>"  # start tag: name, attributes, self-closing
    f"|</({_NAME}){_WS}*+>"  # end tag
    "|<![dD][oO][cC][tT][yY][pP][eE][^<>]*+>"  # doctype
)
_TOKENS = re.compile(_TOKEN)
_ATTRS = re.compile(f"{_WS}++({_ATTR_NAME})(?:{_WS}*+={_WS}*+({_ATTR_VALUE}))?+")
_CDATA = frozenset({"script", "style"})
# A run of attributes none of which `_PageParser` reports: no name starting with "on", and
# every URL attribute's value printable ASCII without "&" (so unescaping cannot change it) and
# not starting with an unsafe scheme (`_UNSAFE_URL` on such a value sees only " " as space).
_URL_NAME = r"(?i:href|src|action|formaction|xlink:href|poster)(?![-a-zA-Z0-9_:.])"
_UNSAFE_AHEAD = r"(?! *+(?i:javascript|data|vbscript) *+:)"
_SAFE_URL_VALUE = (
    rf""""{_UNSAFE_AHEAD}[ !#-%'-;=?-~]*+"|'{_UNSAFE_AHEAD}[ -%(-;=?-~]*+'"""
    rf"|(?!(?i:javascript|data|vbscript):)[A-Za-z0-9._:/#%?;+,~!@$*()\[\]{{}}|^-]++"
)
_SAFE_ATTRS = re.compile(
    f"(?:{_WS}++(?:"
    f"(?![oO][nN]){_URL_NAME}(?:{_WS}*+={_WS}*+(?:{_SAFE_URL_VALUE}))?+"
    f"|(?![oO][nN])(?!{_URL_NAME}){_ATTR_NAME}(?:{_WS}*+={_WS}*+(?:{_ATTR_VALUE}))?+"
    "))*+"
)


class _NotStrict(Exception):
    """The page is outside the strict subset `_fast_feed` tokenizes."""


def _fast_feed(parser: _PageParser, doc: str) -> None:
    """Make ``parser``'s calls for ``doc`` as `HTMLParser.feed` + ``close`` would.

    Raises `_NotStrict` (``parser`` then holds partial state) if ``doc`` is outside the
    strict subset; the caller starts over with `HTMLParser`. When no attribute of the page
    can be reported (`_SAFE_ATTRS`), a start tag outside a capture that `handle_starttag`
    would only push on its stack is pushed here: one not in `_SPECIAL_TAGS` whose
    attributes cannot hold a hook class ("sb-page" on any tag, the others on `_HOOK_TAGS`,
    each containing its `_HOOK_HINTS`; without "&" nothing is unescaped into one).
    """
    tokens = _TOKENS.findall(doc)
    # Every "<" starts a tag or doctype token and none holds another "<"; `findall` skips
    # only a "<" that starts no token. So the page is all tokens iff the counts agree.
    if doc.count("<") != sum(1 for token in tokens if not token[0]):
        raise _NotStrict
    screened = _SAFE_ATTRS.fullmatch("".join([token[2] for token in tokens])) is not None
    cdata = ""
    start_tag = parser.handle_starttag
    end_tag = parser.handle_endtag
    stack = parser._stack
    for text, tag, attrs, close, end in tokens:
        if text:
            if parser._capture:  # script/style content is raw, other text unescaped
                parser.handle_data(text if cdata else html.unescape(text))
            continue
        if cdata:
            if end.lower() != cdata:
                raise _NotStrict
            cdata = ""
            end_tag(end.lower())
        elif tag:
            name = tag.lower()
            if (
                screened
                and not parser._capture
                and name not in _SPECIAL_TAGS
                and "&" not in attrs
                and "sb-page" not in attrs
                and (name not in _HOOK_TAGS or _HOOK_HINTS[name] not in attrs)
            ):
                if name not in _VOID:
                    stack.append(name)
            else:
                start_tag(name, _attr_items(attrs) if attrs else [])
            if close:
                end_tag(name)
            elif name in _CDATA:
                cdata = name
        elif end:
            name = end.lower()
            if parser._capture or parser._figure_depth is not None:
                end_tag(name)
            elif name not in _VOID and name in stack:  # `handle_endtag` with nothing open
                while stack.pop() != name:
                    pass
    if cdata:
        raise _NotStrict


def _attr_items(attrs: str) -> list[tuple[str, str | None]]:
    """The attributes of a strict start tag as `HTMLParser` passes them."""
    items: list[tuple[str, str | None]] = []
    for name, raw in _ATTRS.findall(attrs):
        if not raw:
            items.append((name.lower(), None))
            continue
        if raw[0] in "\"'":
            raw = raw[1:-1]
        items.append((name.lower(), html.unescape(raw) if raw else raw))
    return items


def parse_page(text: str, *, close: bool = True) -> _PageParser:
    """The facts of one page, as `_PageParser` fed with ``text`` (and closed) collects them.

    Pages in the strict subset sealbook writes go through `_fast_feed`, others (and
    ``close=False``) through `HTMLParser` itself.
    """
    if close:
        parser = _PageParser()
        try:
            _fast_feed(parser, text)
            return parser
        except _NotStrict:
            pass
    parser = _PageParser()
    parser.feed(text)
    if close:
        parser.close()
    return parser


def expected_layout(manifests: list[Manifest]) -> dict[str, Expected]:
    """Every page and data file the chain (genesis to head) makes a site have."""
    out: dict[str, Expected] = {
        layout.HOME: Expected("page", "catalog"),
        layout.RELEASES_PAGE: Expected("page", "releases"),
        layout.AUDIT_PAGE: Expected("page", "audit"),
        layout.VERSIONS_JS: Expected("version-data", "versions"),
        layout.SEARCH_JSON: Expected("search-index", "search-json"),
        layout.SEARCH_JS: Expected("search-index", "search-js"),
    }
    seen: set[tuple[str, int]] = set()
    last: dict[str, int] = {}
    for m in manifests:
        v = m.version
        out[layout.release_page(v)] = Expected("page", "release", version=v)
        out[layout.release_manifest(v)] = Expected("release-manifest", "manifest", version=v)
        out[layout.release_bundle(v)] = Expected("release-bundle", "bundle", version=v)
        for rb in m.runbooks:
            out[layout.release_source(v, rb.slug)] = Expected(
                "release-source", "source", rb.slug, v, rb
            )
            if (rb.slug, rb.revision) not in seen:
                seen.add((rb.slug, rb.revision))
                out[layout.revision_page(rb.slug, rb.revision)] = Expected(
                    "page", "revision", rb.slug, v, rb
                )
            out[layout.alias_page(v, rb.slug)] = Expected("alias", "alias", rb.slug, v, rb)
            before = last.get(rb.slug)
            if before is not None and before != rb.revision:
                out[layout.diff_page(rb.slug, before, rb.revision)] = Expected(
                    "page", "diff", rb.slug, v
                )
            last[rb.slug] = rb.revision
    for slug in last:
        out[layout.latest_page(slug)] = Expected("alias", "latest", slug)
    for name in _alert_names(manifests):
        out[layout.alert_page(name)] = Expected("alias", "alert", name)
    return out


def _alert_names(manifests: list[Manifest]) -> list[str]:
    """Alert names that get a page: newest spelling per release, file-name safe, unique."""
    newest: dict[str, str] = {}
    for m in manifests:
        in_release: dict[str, str] = {}
        for rb in m.runbooks:
            for name in layout.alerts_of(rb):
                in_release.setdefault(name.lower(), name)
        newest.update(in_release)
    return [name for _, name in sorted(newest.items()) if layout.valid_alert(name)]


def _alert_slugs(manifests: list[Manifest]) -> dict[str, list[str]]:
    """Per alert name (as written), the slugs of the newest release that lists it."""
    newest: dict[str, list[str]] = {}
    for m in manifests:
        in_release: dict[str, list[str]] = {}
        for rb in m.runbooks:
            for name in layout.alerts_of(rb):
                in_release.setdefault(name, []).append(rb.slug)
        newest.update(in_release)
    return newest


@dataclass
class _Chain:
    manifests: list[Manifest]
    releases: dict[str, VerifiedRelease]
    last: dict[str, Runbook]
    """Per slug ever released, its runbook in the newest release that had it."""
    retired: dict[str, str]
    introduced: dict[tuple[str, int], str]
    alert_slugs: dict[str, list[str]]
    """Per alert name, the slugs of the newest release that lists it."""

    @cached_property
    def versions_js(self) -> bytes:
        """What ``assets/versions.js`` must hold."""
        return layout.versions_js(self.manifests)

    @cached_property
    def search_json(self) -> bytes:
        """What ``search/search_index.json`` must hold."""
        return layout.search_index_json(self.manifests[-1] if self.manifests else None)

    @cached_property
    def search_js(self) -> bytes:
        """What ``search/search_index.js`` must hold (the same index as a script)."""
        return layout.search_index_js(self.search_json)

    @classmethod
    def of(cls, chain: list[VerifiedRelease]) -> _Chain:
        manifests = [r.manifest for r in chain]
        last: dict[str, Runbook] = {}
        introduced: dict[tuple[str, int], str] = {}
        for m in manifests:
            for rb in m.runbooks:
                last[rb.slug] = rb
                introduced.setdefault((rb.slug, rb.revision), m.version)
        history = layout.History.of(manifests)
        return cls(
            manifests,
            {r.version: r for r in chain},
            last,
            history.retired,
            introduced,
            _alert_slugs(manifests),
        )


def verify_site(site: Path, chain: list[VerifiedRelease], policy: TrustPolicy) -> list[Result]:
    """Verify the site at ``site`` against the verified ``chain`` (genesis to head)."""
    # (1)
    sm_path = site / layout.SITE_MANIFEST
    raw = read_limited(sm_path, MAX_SITE_MANIFEST, "site-manifest.json")
    sm = SiteManifest.from_bytes(raw, str(sm_path))
    if sm.preview:
        return [
            Result(
                "site",
                layout.SITE_MANIFEST,
                "site-unsigned-preview",
                "built by `sealbook preview` from an unsigned working tree; build with `sealbook build`",
            )
        ]
    info = _Chain.of(chain)
    expected = expected_layout(info.manifests)
    results: list[Result] = []
    # (2)
    on_disk, odd = _files(site)
    for path, what in sorted(odd.items()):
        detail = f"{what}; sealbook writes regular files and folders only"
        results.append(Result("site-file", path, "site-file-unexpected", detail))
    for path in sorted(set(on_disk) - set(sm.files) - {layout.SITE_MANIFEST}):
        codes = ["site-file-unexpected"]
        detail = "not listed in site-manifest.json"
        if path.endswith(".html") and _is_preview_page(site / path):
            codes.append("site-unsigned-preview")
            detail = (
                "a page built by `sealbook preview` (unsigned), not listed in site-manifest.json"
            )
        results.append(Result("site-file", path, first(codes), detail))
    listed = sorted((p, e) for p, e in sm.files.items() if p not in odd)
    results.extend(_check_listed(_Work(site, listed, sm, expected, info, policy)))
    # (3) expected files nobody listed
    for path, exp in sorted(expected.items()):
        if path not in sm.files:
            results.append(
                Result(
                    "site-file", path, "site-file-missing", f"the chain needs this {exp.kind} file"
                )
            )
    head = chain[-1] if chain else None
    if head is not None and sm.head != (head.version, head.manifest_digest):
        results.append(
            Result(
                "site-file",
                layout.SITE_MANIFEST,
                "site-latest-mismatch",
                f"built for head {sm.head}, the chain head is {head.version}:{head.manifest_digest}",
            )
        )
    return results


@dataclass(frozen=True)
class _Work:
    """Everything `_check_file` needs for the listed files of one site."""

    site: Path
    listed: list[tuple[str, SiteFile]]
    sm: SiteManifest
    expected: dict[str, Expected]
    info: _Chain
    policy: TrustPolicy

    def check(self, start: int, stop: int) -> list[Result]:
        """The results of ``listed[start:stop]``, in order."""
        return [
            _check_file(
                self.site, path, e.role, e.digest, self.sm, self.expected, self.info, self.policy
            )
            for path, e in self.listed[start:stop]
        ]


PARALLEL_MIN = 4000
"""From this many listed files on, they are checked by forked worker processes."""
_FORKED: _Work | None = None


def _check_forked(bounds: tuple[int, int]) -> list[Result]:
    assert _FORKED is not None
    return _FORKED.check(*bounds)


def _check_listed(work: _Work) -> list[Result]:
    """Check every listed file (results in listing order); large sites on every core.

    Workers are forked (they inherit ``work``, nothing is pickled but the results) and each
    checks contiguous slices, so the results are exactly those of the serial loop.
    """
    global _FORKED
    count = len(work.listed)
    cores = min(os.cpu_count() or 1, 8)
    if count < PARALLEL_MIN or cores < 2 or "fork" not in mp.get_all_start_methods():
        return work.check(0, count)
    step = -(-count // (cores * 4))
    slices = [(start, min(start + step, count)) for start in range(0, count, step)]
    _FORKED = work
    try:
        with mp.get_context("fork").Pool(cores) as pool:
            parts = pool.map(_check_forked, slices, chunksize=1)
    finally:
        _FORKED = None
    return [result for part in parts for result in part]


def _files(site: Path) -> tuple[set[str], dict[str, str]]:
    """(regular files, everything else) under ``site`` as site paths.

    sealbook writes regular files and folders only. A symbolic link (to a file or a folder),
    a FIFO or a device is never followed or opened: the second part names what it is.
    """
    found: set[str] = set()
    odd: dict[str, str] = {}
    folders = [""]
    while folders:
        rel = folders.pop()
        with os.scandir(f"{site}/{rel}" if rel else site) as entries:
            for entry in entries:
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    odd[path] = "a symbolic link"
                elif entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                elif entry.is_file(follow_symlinks=False):
                    found.add(path)
                else:
                    odd[path] = "not a regular file (a FIFO, socket or device)"
    return found, odd


def _is_preview_page(path: Path) -> bool:
    try:
        return parse_page(
            read_regular(path, MAX_PAGE).decode("utf-8", "replace"), close=False
        ).preview
    except OSError:
        return False


def _check_file(
    site: Path,
    path: str,
    role: str,
    want: str,
    sm: SiteManifest,
    expected: dict[str, Expected],
    info: _Chain,
    policy: TrustPolicy,
) -> Result:
    try:
        data = read_limited(site / path, MAX_PAGE, "site file")
    except InputError:
        return Result("site-file", path, "site-file-missing", "listed in site-manifest.json")
    problems: list[tuple[str, str]] = []
    if digest(data) != want:
        problems.append(("site-file-modified", f"bytes differ from {want}"))
    exp = expected.get(path)
    if role in ("asset", "theme-asset"):
        known = expected_digest(sm.theme, path)
        if known is None:
            problems.append(("site-asset-unknown", f"not an asset of {', '.join(sm.theme)}"))
        elif known != digest(data):
            problems.append(
                ("site-asset-unknown", f"differs from {known} shipped in {', '.join(sm.theme)}")
            )
    elif role == "trusted-root":
        fingerprints = {r.fingerprint: n for n, r in policy.roots.items()}
        fp = digest(data)
        if fp not in fingerprints or layout.trusted_root_file(fp) != path:
            problems.append(("site-content-mismatch", "not a trusted root of the policy"))
    elif exp is None:
        problems.append(("site-file-unexpected", f"the chain makes no {role} at this path"))
    elif exp.role != role:
        problems.append(
            ("site-file-unexpected", f"listed as {role}, the chain makes it a {exp.role}")
        )
    else:
        problems.extend(_check_content(path, data, exp, info, policy, sm))
    if not problems:
        return Result("site-file", path, "verified", "")
    code = first([c for c, _ in problems])
    detail = "; ".join(d for c, d in problems if c == code)
    return Result("site-file", path, code, detail)


def _check_content(
    path: str, data: bytes, exp: Expected, info: _Chain, policy: TrustPolicy, sm: SiteManifest
) -> list[tuple[str, str]]:
    if exp.kind == "versions":
        return (
            []
            if data == info.versions_js
            else [("site-content-mismatch", "version data differs from the chain")]
        )
    if exp.kind in ("search-json", "search-js"):
        want = info.search_json if exp.kind == "search-json" else info.search_js
        return (
            []
            if data == want
            else [("site-content-mismatch", "search index differs from the chain")]
        )
    if exp.kind in ("manifest", "bundle", "source"):
        rel = info.releases[exp.version]
        if exp.kind == "manifest":
            want_bytes = rel.manifest_bytes
        elif exp.kind == "bundle":
            want_bytes = rel.bundle_bytes
        else:
            assert exp.runbook is not None
            return (
                []
                if digest(data) == exp.runbook.digest
                else [("site-content-mismatch", "frozen source differs from its signed digest")]
            )
        return (
            []
            if data == want_bytes
            else [("site-content-mismatch", "differs from the verified release")]
        )
    return _check_page(path, data, exp, info, policy, sm)


def _check_page(
    path: str, data: bytes, exp: Expected, info: _Chain, policy: TrustPolicy, sm: SiteManifest
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    try:
        parser = parse_page(data.decode("utf-8"))
    except UnicodeDecodeError:
        return [("site-content-mismatch", "page is not UTF-8")]
    # (4) safety
    if parser.preview:
        problems.append(("site-unsigned-preview", "page carries the preview marker: unsigned"))
    for what in parser.unsafe:
        problems.append(("site-page-unsafe", what))
    if parser.csp != [layout.CSP]:
        problems.append(("site-page-unsafe", "missing or different Content-Security-Policy"))
    for src in parser.scripts:
        target = _resolve(path, src)
        entry = sm.files.get(target) if target else None
        if entry is None or entry.role not in _SCRIPT_ROLES:
            problems.append(("site-page-unsafe", f"script {src[:60]!r} is not a site asset"))
    # (4) content
    if exp.kind in ("revision", "alias"):
        assert exp.runbook is not None
        version = (
            info.introduced[(exp.slug, exp.runbook.revision)]
            if exp.kind == "revision"
            else exp.version
        )
        problems += _check_snippets(parser, exp.runbook, version, policy)
        if parser.pre_outside:
            problems.append(
                (
                    "site-content-mismatch",
                    f"{parser.pre_outside} code block(s) outside signed snippets",
                )
            )
        page_root = parser.roots[0] if parser.roots else {}
        if (
            page_root.get("data-digest") != exp.runbook.digest
            or page_root.get("data-release") != version
            or page_root.get("data-revision") != str(exp.runbook.revision)
        ):
            problems.append(
                ("site-content-mismatch", "page names another runbook digest, revision or release")
            )
    elif exp.kind == "latest":
        problems += _check_latest(path, parser, exp.slug, info)
    elif exp.kind == "catalog":
        problems += _check_catalog(parser, info)
    elif exp.kind == "alert":
        problems += _check_alert(path, parser, exp.slug, info)
    elif exp.kind in ("diff", "release", "releases", "audit") and parser.figures:
        problems.append(("site-content-mismatch", "snippets on a page that shows none"))
    return problems


def _resolve(page: str, url: str) -> str | None:
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:|^//", url):
        return None
    clean = url.split("#", 1)[0].split("?", 1)[0]
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(page), clean))
    return None if joined.startswith("..") else joined


def _check_snippets(
    parser: _PageParser, rb: Runbook, version: str, policy: TrustPolicy
) -> list[tuple[str, str]]:
    problems = []
    shown = [f.attrs.get("data-snippet-id", "") for f in parser.figures]
    signed = [s.id for s in rb.snippets]
    if shown != signed:
        problems.append(
            ("site-content-mismatch", f"snippets shown {shown} differ from signed {signed}")
        )
    for fig, s in zip(parser.figures, rb.snippets, strict=False):
        where = f"snippet {s.id}"
        if fig.attrs.get("data-digest") != s.digest:
            problems.append(
                ("site-content-mismatch", f"{where}: digest shown differs from signed {s.digest}")
            )
        if fig.attrs.get("data-executable") != ("true" if s.executable else "false"):
            problems.append(("site-content-mismatch", f"{where}: executable flag differs"))
        copies = [parser.texts.get(i) for i in fig.copy_ids]
        if copies != [s.copy_text]:
            problems.append(
                ("site-content-mismatch", f"{where}: copy text differs from the signed text")
            )
        runs = [parser.texts.get(i) for i in fig.run_ids]
        want = [layout.run_command(rb.slug, version, s, policy.site_url)] if s.executable else []
        if runs != want:
            problems.append(("site-content-mismatch", f"{where}: run command differs from {want}"))
    return problems


def _target_of(info: _Chain, slug: str) -> tuple[Runbook, str | None]:
    return info.last[slug], info.retired.get(slug)


def _check_latest(path: str, parser: _PageParser, slug: str, info: _Chain) -> list[tuple[str, str]]:
    rb, retired = _target_of(info, slug)
    want = layout.relative(path, layout.revision_page(slug, rb.revision))
    root = parser.roots[0] if parser.roots else {}
    links = [a.get("href") for a in parser.links.get("sb-latest-link", [])]
    refresh_ok = retired is not None or parser.refresh == [f"0; url={want}"]
    if (
        root.get("data-revision") != str(rb.revision)
        or root.get("data-digest") != rb.digest
        or root.get("data-retired", "") != (retired or "")
        or links != [want]
        or not refresh_ok
    ):
        return [("site-latest-mismatch", f"does not point at revision {rb.revision} ({rb.digest})")]
    return []


def _check_catalog(parser: _PageParser, info: _Chain) -> list[tuple[str, str]]:
    problems = []
    rows = {r.get("data-slug", ""): r for r in parser.rows}
    if set(rows) != set(info.last) or len(rows) != len(parser.rows):
        problems.append(
            ("site-latest-mismatch", "catalog rows differ from the runbooks of the chain")
        )
    for slug, row in sorted(rows.items()):
        if slug not in info.last:
            continue
        rb, retired = _target_of(info, slug)
        if (
            row.get("data-revision") != str(rb.revision)
            or row.get("data-digest") != rb.digest
            or row.get("data-retired", "") != (retired or "")
            or row.get("data-since") != info.introduced[(slug, rb.revision)]
        ):
            problems.append(
                ("site-latest-mismatch", f"row {slug} does not show revision {rb.revision}")
            )
    hrefs = [a.get("href") for a in parser.links.get("sb-latest-link", [])]
    want = [layout.revision_page(s, info.last[s].revision) for s in _catalog_order(info)]
    if hrefs != want:
        problems.append(
            ("site-latest-mismatch", "catalog links do not lead to the latest revisions")
        )
    return problems


def _catalog_order(info: _Chain) -> list[str]:
    return sorted(info.last, key=lambda s: (s in info.retired, s.lower()))


def _check_alert(path: str, parser: _PageParser, name: str, info: _Chain) -> list[tuple[str, str]]:
    slugs = info.alert_slugs.get(name, [])
    links = parser.links.get("sb-alert-target", [])
    want = [
        (s, layout.relative(path, layout.revision_page(s, info.last[s].revision))) for s in slugs
    ]
    got = [(a.get("data-slug", ""), a.get("href", "")) for a in links]
    if got != want:
        return [("site-latest-mismatch", f"does not lead to the latest revision of {slugs}")]
    return []
