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

import os
import posixpath
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from verifier import sitelayout as layout
from verifier.digests import digest
from verifier.errors import InputError
from verifier.manifest import Manifest, Runbook
from verifier.policy import TrustPolicy
from verifier.reasons import first
from verifier.release import VerifiedRelease, read_limited
from verifier.results import Result
from verifier.siteassets import expected_digest
from verifier.sitemanifest import SiteManifest

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
    """Collects the hooks and the safety facts of one page."""

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
        if tag in ("iframe", "object", "embed", "base", "frame"):
            self.unsafe.append(f"<{tag}> element")
        if tag == "form" and "md-search__form" not in classes:
            self.unsafe.append("<form> other than the search box")
        if tag == "script":
            if "src" in attrs:
                self.scripts.append(attrs["src"])
            elif attrs.get("type") != "application/json":
                self.unsafe.append("inline <script>")
        if tag == "meta":
            if attrs.get("http-equiv", "").lower() == "content-security-policy":
                self.csp.append(attrs.get("content", ""))
            if attrs.get("http-equiv", "").lower() == "refresh":
                self.refresh.append(attrs.get("content", ""))
            if attrs.get("name") == layout.PREVIEW_META:
                self.preview = True
        if tag == "figure" and "sb-snippet" in classes:
            self.figures.append(_Figure(attrs))
            self._figure_depth = len(self._stack)
        if tag == "pre" and self._figure_depth is None:
            self.pre_outside += 1
        if "sb-page" in classes:
            self.roots.append(attrs)
        if tag == "tr" and "sb-catalog-row" in classes:
            self.rows.append(attrs)
        for hook in ("sb-latest-link", "sb-alert-target", "sb-revision-link"):
            if tag == "a" and hook in classes:
                self.links.setdefault(hook, []).append(attrs)
        element_id = attrs.get("id", "")
        if tag == "template" and "sb-copy-text" in classes:
            self._capture.append((element_id, tag, len(self._stack)))
            if self.figures and self._figure_depth is not None:
                self.figures[-1].copy_ids.append(element_id)
        if tag == "code" and "sb-run" in classes:
            self._capture.append((element_id, tag, len(self._stack)))
            if self.figures and self._figure_depth is not None:
                self.figures[-1].run_ids.append(element_id)
        for key, _tag, _depth in self._capture:
            self.texts.setdefault(key, "")
        if tag not in _VOID:
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self._stack:
            return
        while self._stack:
            popped = self._stack.pop()
            depth = len(self._stack)
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


def _alert_slugs(manifests: list[Manifest], name: str) -> list[str]:
    """Slugs of the newest release that lists alert ``name``."""
    slugs: list[str] = []
    for m in manifests:
        found = [rb.slug for rb in m.runbooks if name in layout.alerts_of(rb)]
        if found:
            slugs = found
    return slugs


@dataclass
class _Chain:
    manifests: list[Manifest]
    releases: dict[str, VerifiedRelease]
    last: dict[str, Runbook]
    """Per slug ever released, its runbook in the newest release that had it."""
    retired: dict[str, str]
    introduced: dict[tuple[str, int], str]

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
        return cls(manifests, {r.version: r for r in chain}, last, history.retired, introduced)


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
    on_disk = _files(site)
    for path in sorted(set(on_disk) - set(sm.files) - {layout.SITE_MANIFEST}):
        codes = ["site-file-unexpected"]
        detail = "not listed in site-manifest.json"
        if path.endswith(".html") and _is_preview_page(site / path):
            codes.append("site-unsigned-preview")
            detail = (
                "a page built by `sealbook preview` (unsigned), not listed in site-manifest.json"
            )
        results.append(Result("site-file", path, first(codes), detail))
    for path, entry in sorted(sm.files.items()):
        results.append(
            _check_file(site, path, entry.role, entry.digest, sm, expected, info, policy)
        )
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


def _files(site: Path) -> set[str]:
    found = set()
    for dirpath, _dirs, names in os.walk(site):
        for name in names:
            found.add((Path(dirpath) / name).relative_to(site).as_posix())
    return found


def _is_preview_page(path: Path) -> bool:
    try:
        parser = _PageParser()
        parser.feed(path.read_bytes().decode("utf-8", "replace"))
        return parser.preview
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
    manifests = info.manifests
    head = manifests[-1] if manifests else None
    if exp.kind == "versions":
        return (
            []
            if data == layout.versions_js(manifests)
            else [("site-content-mismatch", "version data differs from the chain")]
        )
    if exp.kind in ("search-json", "search-js"):
        want = (
            layout.search_index_json(head)
            if exp.kind == "search-json"
            else layout.search_index_js(head)
        )
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
    parser = _PageParser()
    try:
        parser.feed(data.decode("utf-8"))
        parser.close()
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
    slugs = _alert_slugs(info.manifests, name)
    links = parser.links.get("sb-alert-target", [])
    want = [
        (s, layout.relative(path, layout.revision_page(s, info.last[s].revision))) for s in slugs
    ]
    got = [(a.get("data-slug", ""), a.get("href", "")) for a in links]
    if got != want:
        return [("site-latest-mismatch", f"does not lead to the latest revision of {slugs}")]
    return []
