"""The one module that talks to mkdocs and mkdocs-material.

mkdocs is used as a library: ``load_config(...)`` then ``build(cfg)``, with an in-process
plugin that adds every page to render as ``File.generated`` and hands its view to the
templates in ``page.meta["sealbook"]``. The pages' Markdown is empty and mkdocs does not
convert it (`SealbookPage`): the prose is rendered by `builder.site.prose` with sealbook's
allow-list, never by mkdocs' extension list. The Jinja environment is switched to autoescape.

Cost control (docs/site.md, "Build cost"): the navigation is three fixed entries and every
generated page is ``not_in_nav``; material's search plugin indexes nothing (the index is
written from signed data by `verifier.sitelayout`); unchanged pages are not rendered at all
(`builder.site.cache`).
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from markupsafe import Markup

from builder.site.assets import material_dir, template_dir
from verifier import sitelayout as layout
from verifier.errors import SealbookError

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

CSP = layout.CSP


NAV = (("Catalog", "index.md"), ("Releases", "releases.md"), ("Audit", "audit.md"))


class RenderError(SealbookError):
    """mkdocs could not render the site."""


@dataclass(frozen=True)
class MaterialPage:
    """A page rendered through the theme: site path, title and a lazy view."""

    path: str
    title: str
    view: Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]
    """Returns (view for the template, toc tokens)."""


@dataclass(frozen=True)
class SiteGlobals:
    """Values every template sees as ``sealbook``."""

    site_name: str
    preview: bool
    dev: bool

    def to_template(self) -> dict[str, Any]:
        return {
            "csp": CSP,
            "preview": self.preview,
            "dev": self.dev,
            "preview_meta": layout.PREVIEW_META,
            "name": self.site_name,
        }


MATERIAL_PREFIX = "material-theme"
"""Templates named ``material-theme/<path>`` are material's own, even where site-template/
overrides ``<path>``."""


class FragmentCache(Extension):
    """``{% sbcache key, ... %}body{% endsbcache %}``: the body rendered once per key and build.

    Material renders its navigation, search box, logo, footer, config and asset links on
    every page, and they come out the same on every page of the same shape. The key must
    name everything the body depends on besides the build's config: site-template/ keys on
    ``sealbook_shape`` = (``base_url``, the page's nav entry or None). That covers the
    fragments it caches because their links all lead to root-level pages or into
    ``assets/``, so they differ only with the page's depth, and the nav (active entry,
    previous/next page) only on the three nav pages. The TOC is keyed by its entries too
    (``page.sealbook_toc_key``): runbooks written from one template share their headings.
    The body is rendered with autoescape like any other template output; the cache keeps
    that output (`Markup`) per environment, and mkdocs makes a new environment per build.
    """

    tags = {"sbcache"}  # noqa: RUF012 - jinja2's declared attribute

    def __init__(self, environment: jinja2.Environment) -> None:
        super().__init__(environment)
        self.fragments: dict[tuple[Any, ...], Markup] = {}

    def parse(self, parser: Any) -> nodes.Node:
        lineno = next(parser.stream).lineno
        key = [parser.parse_expression()]
        while parser.stream.skip_if("comma"):
            key.append(parser.parse_expression())
        body = parser.parse_statements(("name:endsbcache",), drop_needle=True)
        call = self.call_method("_fragment", [nodes.Tuple(key, "load")])
        return nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _fragment(self, key: tuple[Any, ...], caller: Callable[[], Markup]) -> Markup:
        found = self.fragments.get(key)
        if found is None:
            found = self.fragments[key] = caller()
        return found


class Progress:
    """Prints ``rendered N/M pages`` to stderr every ``every`` pages."""

    def __init__(self, total: int, every: int = 100, stream: Any = None) -> None:
        self.total = total
        self.every = every
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.monotonic()

    def step(self) -> None:
        self.done += 1
        if self.done % self.every == 0 or self.done == self.total:
            elapsed = time.monotonic() - self.start
            self.stream.write(
                f"sealbook: rendered {self.done}/{self.total} pages ({elapsed:.1f} s)\n"
            )
            self.stream.flush()


def _plugin(
    pages: dict[str, MaterialPage],
    sb: SiteGlobals,
    progress: Progress,
    emptied: Callable[[], None] | None,
) -> Any:
    from mkdocs.plugins import BasePlugin
    from mkdocs.structure.files import File, InclusionLevel
    from mkdocs.structure.pages import Page
    from mkdocs.structure.toc import get_toc

    nav_titles = {uri: title for title, uri in NAV}
    nav_urls = {uri[: -len(".md")] + ".html" for uri in nav_titles}

    class SealbookPage(Page):
        """A page whose Markdown is empty: its HTML is the theme's, from the page's view."""

        def render(self, config: Any, files: Any) -> None:
            # mkdocs would build a Markdown parser per page to convert the empty source.
            self.content = ""
            tokens = _plain_toc(getattr(self, "_sealbook_toc", []))
            self.toc = get_toc(tokens)  # type: ignore[arg-type]
            self.sealbook_toc_key = _toc_key(tokens)
            self.present_anchor_ids = set()

    class SealbookPages(BasePlugin):  # type: ignore[type-arg, no-untyped-call]
        """Adds sealbook's pages and hands their views to the templates."""

        def on_files(self, files: Any, *, config: Any) -> Any:
            # No sitemap (no site_url), no 404.html (material links it by absolute URLs,
            # useless offline). Cleared only now: the set also keeps them out of the copied
            # theme files, which mkdocs has gathered before this event.
            config.theme.static_templates.clear()
            if emptied is not None:  # mkdocs cleaned site_dir before this event
                emptied()
            for path in pages:
                uri = path[: -len(".html")] + ".md"
                in_nav = uri in nav_titles
                level = InclusionLevel.INCLUDED if in_nav else InclusionLevel.NOT_IN_NAV
                file = File.generated(config, uri, content="", inclusion=level)
                # The title the nav gives a page, as mkdocs would when it makes the page.
                SealbookPage(nav_titles.get(uri), file, config)  # sets file.page
                files.append(file)
            return files

        def on_page_markdown(self, markdown: str, *, page: Any, config: Any, files: Any) -> str:
            spec = pages[page.file.dest_uri]
            view, toc = spec.view()
            page.meta = {
                "title": spec.title,
                "search": {"exclude": True},
                "sealbook": view,
            }
            if not toc:
                # Pages without headings (the catalog, releases) get the TOC column's width.
                page.meta["hide"] = ["toc"]
            page._sealbook_toc = toc
            return ""

        def on_env(self, env: jinja2.Environment, *, config: Any, files: Any) -> jinja2.Environment:
            env.autoescape = True
            env.globals["sealbook"] = sb.to_template()
            env.add_extension(FragmentCache)
            env.bytecode_cache = _bytecode_cache("material")
            # site-template/ overrides some partials by wrapping material's own, named here.
            assert env.loader is not None
            originals = jinja2.FileSystemLoader(str(material_dir()))
            env.loader = jinja2.ChoiceLoader(
                [env.loader, jinja2.PrefixLoader({MATERIAL_PREFIX: originals})]
            )
            return env

        def on_page_context(self, context: Any, *, page: Any, config: Any, nav: Any) -> Any:
            # All a cached theme fragment may depend on besides the config (FragmentCache).
            nav_entry = page.url if page.url in nav_urls else None
            context["sealbook_shape"] = (context["base_url"], nav_entry)
            return context

        def on_post_page(self, output: str, *, page: Any, config: Any) -> str:
            progress.step()
            return output

    return SealbookPages()


def _plain_toc(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Toc tokens with plain-text names (autoescape escapes them once, in the template)."""
    import html

    return [
        {
            **t,
            "name": html.unescape(str(t.get("name", ""))),
            "children": _plain_toc(t.get("children", [])),
        }
        for t in tokens
    ]


def _toc_key(tokens: list[dict[str, Any]]) -> tuple[Any, ...]:
    """All of a page's TOC that material's TOC partial shows, as a `FragmentCache` key."""
    return tuple((t["level"], t["id"], t["name"], _toc_key(t["children"])) for t in tokens)


def render_material(
    pages: list[MaterialPage],
    site_dir: Path,
    work: Path,
    sb: SiteGlobals,
    progress: Progress,
    emptied: Callable[[], None] | None = None,
) -> None:
    """Render ``pages`` with mkdocs-material into ``site_dir`` (which mkdocs empties first).

    ``emptied`` is called once mkdocs has emptied ``site_dir``, before it writes anything:
    from then on others may write there too, to paths that are not mkdocs'.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    docs = work / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    config = {
        "site_name": sb.site_name,
        "docs_dir": str(docs),
        "site_dir": str(site_dir),
        "use_directory_urls": False,
        "strict": True,
        "nav": [{title: uri} for title, uri in NAV],
        "theme": {
            "name": "material",
            "custom_dir": str(template_dir()),
            "font": False,
            "palette": {"scheme": "default", "primary": "indigo", "accent": "indigo"},
            "features": ["navigation.prune", "search.highlight"],
        },
        "plugins": ["search", "offline"],
        "markdown_extensions": [],
        "extra": {
            "generator": False,
            "polyfills": ["assets/sealbook/iframe-worker/shim.js"],
        },
        "validation": {"nav": {"omitted_files": "ignore", "not_found": "warn"}},
    }
    import yaml

    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        cfg = load_config(
            config_file=io.StringIO(yaml.safe_dump(config)),
            config_file_path=str(work / "mkdocs.yml"),
        )
        page_map = {p.path: p for p in pages}
        cfg.plugins["sealbook"] = _plugin(page_map, sb, progress, emptied)
        build(cfg)
    except (MkDocsException, SystemExit) as exc:
        raise RenderError(
            str(site_dir),
            f"mkdocs failed: {'; '.join(handler.messages) or exc}",
            "rerun with --verbose and report it",
        ) from None
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def preload() -> None:
    """Import what `render_material` needs (e.g. while a child process verifies releases)."""
    import importlib

    for module in (
        "mkdocs.commands.build",
        "mkdocs.config",
        "material.plugins.offline.plugin",
        "material.plugins.search.plugin",
    ):
        importlib.import_module(module)


def _bytecode_cache(kind: str) -> jinja2.BytecodeCache | None:
    """A bytecode cache so a build does not compile the same templates again, or None.

    Jinja's per-user folder (0700, of this user, in the temp dir: Jinja checks both).
    Compiled code depends on the environment too (autoescape, the fragment tag), which
    Jinja's key (template name, file, source checksum) does not cover: the file names carry
    ``kind`` and a digest of this module, which sets both up.
    """
    from verifier.digests import digest

    tag = digest(f"{kind}|{Path(__file__).read_bytes()!r}".encode())[7:23]
    try:
        return jinja2.FileSystemBytecodeCache(pattern=f"__sealbook_{tag}_%s.cache")
    except (OSError, RuntimeError):
        return None


class _Collect(logging.Handler):
    """Keeps mkdocs' warnings and errors for the one-line diagnostic."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage().splitlines()[0][:200])


def light_environment() -> jinja2.Environment:
    """The Jinja environment of the small pages (autoescape on, templates from site-template)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,
        bytecode_cache=_bytecode_cache("light"),
    )


def render_light(
    env: jinja2.Environment, template: str, page_path: str, view: dict[str, Any], sb: SiteGlobals
) -> bytes:
    """One small page (alias, latest pointer, alert) as bytes."""
    tpl = env.get_template(f"sealbook/light/{template}.html")
    site = sb.to_template()
    return tpl.render(sb=view, site=site, root=layout.root_of(page_path)).encode("utf-8")
