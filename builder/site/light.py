"""The small alias and latest pages by plain string formatting (thousands per rebuild).

Byte for byte what `builder.site.render.render_light` makes from ``site-template/sealbook/
light/{alias,latest}.html`` (with ``base.html``, ``provenance.html``, ``snippet.html``):
every value is escaped exactly as Jinja's autoescape does (``markupsafe.escape``).
`FastLight` proves it per build: the first page of each kind is rendered both ways and,
if the bytes differ, every page of that kind goes through Jinja (the templates stay the
reference). ``tests/test_site_light.py`` compares both over varied views.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jinja2
from markupsafe import escape

from builder.site.render import CSP, SiteGlobals, render_light
from verifier import sitelayout as layout


def _e(value: Any) -> str:
    return str(escape(value))


def _page(sb: SiteGlobals, root: str, head: str, title: str, body: str) -> str:
    name = _e(sb.site_name)
    if sb.preview:
        meta = f'<meta name="{_e(layout.PREVIEW_META)}" content="unsigned preview build">'
        banner = (
            '<div class="sb-banner sb-banner--preview">UNSIGNED PREVIEW — not a release. '
            "Nothing on this page was signed.</div>"
            '<div class="sb-watermark" aria-hidden="true">UNSIGNED PREVIEW</div>\n  '
        )
    else:
        meta = ""
        banner = (
            '<div class="sb-banner sb-banner--dev">DEV: verified against a dev trusted root, '
            "which certifies any identity. Not for production.</div>"
            if sb.dev
            else ""
        )
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        "<head>\n"
        f'  <meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n'
        f"  {meta}\n"
        '  <meta charset="utf-8">\n'
        '  <meta name="viewport" content="width=device-width,initial-scale=1">\n'
        '  <meta name="referrer" content="no-referrer">\n'
        f"  {head}\n"
        f"  <title>{title} - {name}</title>\n"
        f'  <link rel="stylesheet" href="{root}assets/sealbook/sealbook.css">\n'
        "</head>\n"
        '<body class="sb-light">\n'
        f'  <script src="{root}assets/sealbook/scheme.js"></script>\n'
        f"  {banner}\n"
        f'  <p><a href="{root}index.html">{name}</a></p>\n'
        f"  {body}\n"
        f'  <script src="{root}assets/versions.js"></script>\n'
        f'  <script src="{root}assets/sealbook/sealbook.js"></script>\n'
        "</body>\n"
        "</html>"
    )


def _provenance(prov: dict[str, Any] | None, digest: Any, root: str) -> str:
    version = _e(prov["version"]) if prov else ""
    if prov and prov["signed"]:
        dev = ' · <span class="sb-dev">DEV root</span>' if prov["dev"] else ""
        line = (
            f"Signed by <strong>{_e(prov['identity'])}</strong> · release {version} "
            f"· verified at build{dev}"
        )
    else:
        line = '<span class="sb-warn">UNSIGNED PREVIEW</span> · nothing here is signed'
    out = (
        '<details class="sb-provenance-box">\n'
        f'  <summary class="sb-provenance-summary">{line}</summary>\n'
        f'<aside class="sb-provenance" data-release="{version}">\n  '
    )
    if prov and prov["signed"]:
        dig = (
            f'<dt>Runbook digest</dt><dd><code class="sb-runbook-digest">{_e(digest)}</code></dd>'
            if digest
            else ""
        )
        dev = ' <span class="sb-dev">DEV root: certifies any identity</span>' if prov["dev"] else ""
        out += (
            "\n    <dl>\n"
            f'      <dt>Release</dt><dd><a href="{root}versions/{version}/index.html">{version}</a></dd>\n'
            f"      {dig}\n"
            f'      <dt>Manifest digest</dt><dd><code class="sb-manifest-digest">{_e(prov["manifest_digest"])}</code></dd>\n'
            f"      <dt>Signer</dt><dd>{_e(prov['identity'])}</dd>\n"
            f"      <dt>Issuer</dt><dd>{_e(prov['issuer'])}</dd>\n"
            f"      <dt>Log index</dt><dd>{_e(prov['log_index'])}</dd>\n"
            f"      <dt>Signed at</dt><dd>{_e(prov['signed_at'])}</dd>\n"
            f"      <dt>Trusted root</dt><dd>{_e(prov['root'])}{dev}</dd>\n"
            "    </dl>\n  "
        )
    else:
        dig = (
            f'<p>Source digest: <code class="sb-runbook-digest">{_e(digest)}</code></p>'
            if digest
            else ""
        )
        out += (
            '\n    <p class="sb-warn">UNSIGNED PREVIEW: built from the working tree; nothing here is signed.</p>\n'
            f"    {dig}\n  "
        )
    return out + "\n</aside>\n</details>"


def _snippet(s: dict[str, Any]) -> str:
    sid = _e(s["id"])
    lang = _e(s["language"])
    digest = _e(s["digest"])
    kind = (
        '<span class="sb-kind sb-kind--executable">executable</span>'
        if s["executable"]
        else '<span class="sb-kind sb-kind--reference">reference: never run</span>'
    )
    params = (
        f'<span class="sb-params">needs {", ".join(_e(p) for p in s["params"])}</span>'
        if s["params"]
        else ""
    )
    run = (
        '\n    <div class="sb-run-line"><code class="sb-run">'
        + " ".join(f'<span class="sb-run-part">{_e(p)}</span>' for p in s["run_parts"])
        + "</code>"
        '<button type="button" class="sb-copy-run" '
        'data-label="Copy command" aria-label="Copy command">Copy command</button></div>\n  '
        if s["run"]
        else ""
    )
    return (
        f'<figure class="sb-snippet" id="snippet-{sid}" data-snippet-id="{sid}" '
        f'data-digest="{digest}" data-executable="{"true" if s["executable"] else "false"}" '
        f'data-language="{lang}">\n'
        "  <figcaption>\n"
        f'    <a class="sb-snippet-id" href="#snippet-{sid}">#{sid}</a>\n'
        f'    <span class="sb-lang">{lang}</span>\n'
        f"    {kind}\n"
        f"    {params}\n"
        f'    <button type="button" class="sb-copy" '
        'data-label="Copy" aria-label="Copy">Copy</button>\n'
        "  </figcaption>\n"
        f"  {run}\n"
        f'  <pre class="sb-code highlight"><code class="language-{lang}">{_e(s["html"])}</code></pre>\n'
        f'  <template class="sb-copy-text">{_e(s["copy_text"])}</template>\n'
        f'  <div class="sb-digest">digest <code class="sb-snippet-digest">{digest}</code></div>\n'
        "</figure>"
    )


def alias_page(view: dict[str, Any], root: str, sb: SiteGlobals) -> str:
    """``sealbook/light/alias.html``."""
    prov = view["prov"]
    version = _e(prov["version"])
    title = _e(view["title"])
    slug = _e(view["slug"])
    revision = _e(view["revision"])
    digest = _e(view["digest"])
    since = (
        f", unchanged since release {_e(view['introduced'])}"
        if view["introduced"] != prov["version"]
        else ""
    )
    snippets = "".join(_snippet(s) for s in view["snippets"]) or "<p>No snippets.</p>"
    body = (
        f'\n<main class="sb-page sb-page--alias" data-slug="{slug}" data-revision="{revision}" '
        f'data-digest="{digest}" data-release="{version}">\n'
        f"  <h1>{title}</h1>\n"
        f"  <p>Runbook <code>{slug}</code> as of release {version}: revision {revision}{since}.\n"
        f'     <a class="sb-revision-link" href="{_e(view["target"])}?release={version}">Read the runbook</a>.</p>\n'
        f'  <nav class="sb-versions" data-fixed data-slug="{slug}" data-revision="{revision}" '
        f'data-release="{version}" data-since="{_e(view["introduced"])}" data-root="{root}"></nav>\n'
        "  \n"
        f"  {_provenance(prov, view['digest'], root)}\n"
        "  <h2>Snippets in this release</h2>\n"
        f"  {snippets}\n"
        "</main>\n"
    )
    return _page(sb, root, "", f"{title} @ {version}", body)


def latest_page(view: dict[str, Any], root: str, sb: SiteGlobals) -> str:
    """``sealbook/light/latest.html``."""
    retired = view["retired_in"]
    target = _e(view["target"])
    revision = _e(view["revision"])
    digest = _e(view["digest"])
    title = _e(view["title"])
    head = "" if retired else f'<meta http-equiv="refresh" content="0; url={target}">'
    if retired:
        para = (
            f'\n    <p class="sb-warn">Retired in release {_e(retired)}. Its last text: '
            f'<a class="sb-latest-link" href="{target}">revision {revision}</a>.</p>\n  '
        )
    else:
        para = (
            f'\n    <p>Latest: <a class="sb-latest-link" href="{target}">revision {revision}</a>, '
            f"first signed in release {_e(view['since'])}, <code>{digest}</code>.</p>\n  "
        )
    body = (
        f'\n<main class="sb-page sb-page--latest" data-slug="{_e(view["slug"])}" '
        f'data-revision="{revision}" data-digest="{digest}" data-since="{_e(view["since"])}" '
        f'data-retired="{_e(retired or "")}">\n'
        f"  <h1>{title}</h1>\n"
        f"  {para}\n"
        "</main>\n"
    )
    return _page(sb, root, head, f"{title} (latest)", body)


def _shape(template: str, view: dict[str, Any]) -> tuple[Any, ...]:
    """Which branches of the template ``view`` takes (each shape is proven once per build)."""
    if template == "latest":
        return (bool(view["retired_in"]),)
    prov = view["prov"]
    return (
        view["introduced"] != prov["version"],
        bool(prov["signed"]),
        bool(prov.get("dev")),
        bool(view["digest"]),
        tuple((bool(s["executable"]), bool(s["params"]), bool(s["run"])) for s in view["snippets"]),
    )


FAST: dict[str, Callable[[dict[str, Any], str, SiteGlobals], str]] = {
    "alias": alias_page,
    "latest": latest_page,
}


class FastLight:
    """Renders light pages, by string formatting where proven equal to Jinja in this build."""

    def __init__(self, env: jinja2.Environment, sb: SiteGlobals) -> None:
        self.env = env
        self.sb = sb
        self.proven: dict[Any, bool] = {}
        """Per template and per shape (which branches a view takes): proven equal."""

    def render(self, template: str, path: str, view: dict[str, Any]) -> bytes:
        fast = FAST.get(template)
        if fast is None or self.proven.get(template) is False:
            return render_light(self.env, template, path, view, self.sb)
        out = fast(view, layout.root_of(path), self.sb).encode("utf-8")
        shape = (template, _shape(template, view))
        if shape not in self.proven:
            reference = render_light(self.env, template, path, view, self.sb)
            self.proven[shape] = reference == out
            if reference != out:
                self.proven[template] = False
            return reference
        return out
