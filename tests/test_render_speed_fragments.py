"""Rendering shortcuts change no byte: cached theme fragments, the reused Markdown parser."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from markupsafe import Markup

from builder._cli import main as sealbook
from builder.site import prose
from builder.site.render import FragmentCache
from builder.site.views import body_start
from tests.site_helpers import signed_site
from verifier.manifest import Manifest


def _build(*argv: str) -> Path:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = sealbook(list(argv))
    assert code == 0, out.getvalue() + err.getvalue()
    return Path(argv[argv.index("--out") + 1]).resolve()


def _pages(site: Path) -> dict[str, bytes]:
    return {str(p.relative_to(site)): p.read_bytes() for p in sorted(site.rglob("*.html"))}


def _uncached(monkeypatch: pytest.MonkeyPatch) -> None:
    def render_every_time(
        self: FragmentCache, key: tuple[object, ...], caller: Callable[[], Markup]
    ) -> Markup:
        return caller()

    monkeypatch.setattr(FragmentCache, "_fragment", render_every_time)


def test_cached_fragments_equal_rendering_every_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = signed_site()
    _uncached(monkeypatch)
    site = _build(
        "build",
        "--releases",
        str(s.releases),
        "--out",
        str(tmp_path / "site"),
        "--policy",
        str(s.policy),
    )
    cached, uncached = _pages(s.build), _pages(site)
    assert sorted(cached) == sorted(uncached)
    # Every depth and every nav entry: the root pages, versions/V/, runbooks/<slug>/.
    assert {p.count("/") for p in cached} >= {0, 2, 3}
    assert [p for p in cached if cached[p] != uncached[p]] == []


def test_cached_fragments_equal_rendering_every_page_in_previews(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = signed_site()
    _uncached(monkeypatch)
    site = _build("preview", "--runbooks", str(s.root / "runbooks"), "--out", str(tmp_path / "p"))
    # A preview's manifest records when it was made: its digest differs from build to build.
    cached, uncached = _timeless(_pages(s.preview)), _timeless(_pages(site))
    assert sorted(cached) == sorted(uncached)
    assert [p for p in cached if cached[p] != uncached[p]] == []


def _timeless(pages: dict[str, bytes]) -> dict[str, bytes]:
    """Pages with digests and times masked (no cached fragment shows either)."""
    made = re.compile(rb"[0-9a-f]{64}|\d{4}-\d\d-\d\d[T ][0-9:.+Z-]+")
    return {path: made.sub(b"(masked)", html) for path, html in pages.items()}


def test_shared_parser_renders_the_same_whatever_the_page_order() -> None:
    """The one markdown-it parser and renderer are shared by every page: no page's state
    leaks into the next (the same HTML and TOC in either order, and alone)."""
    s = signed_site()
    head = sorted(p for p in s.releases.iterdir() if p.is_dir())[-1]
    manifest = Manifest.from_bytes((head / "manifest.json").read_bytes(), "manifest.json")
    runbooks = [
        (rb, (head / "runbooks" / f"{rb.slug}.md").read_bytes()) for rb in manifest.runbooks
    ]
    assert len(runbooks) >= 2

    def render_all() -> list[prose.Prose]:
        return [prose.render_prose(source, rb, body_start(source)) for rb, source in runbooks]

    alone = [render_all()[i] for i in range(len(runbooks))]
    assert render_all() == alone
    runbooks.reverse()
    assert render_all() == alone[::-1]
