"""The string-formatted alias and latest pages equal the Jinja templates' output."""

from __future__ import annotations

import itertools

import pytest

from builder.site.light import FastLight, alias_page, latest_page
from builder.site.render import SiteGlobals, light_environment, render_light
from verifier import sitelayout as layout

PROV = {
    "signed": True,
    "version": "1.2.0",
    "manifest_digest": "sha256:" + "ab" * 32,
    "root": "dev<root>&",
    "dev": True,
    "identity": 'ci@example.com "quoted" <x>',
    "issuer": "https://issuer.example/?a=1&b=2",
    "log_index": 42,
    "signed_at": "2026-11-29T00:00:00Z",
}


def _snippet(executable: bool, params: bool, run: bool) -> dict[str, object]:
    return {
        "id": "unit-status",
        "language": "bash",
        "executable": executable,
        "params": ["HOST", "<PORT>"] if params else [],
        "digest": "sha256:" + "cd" * 32,
        "html": "ssh \"${HOST:?}\" <tag> & 'q'",
        "copy_text": "echo 'a' && b < c",
        "run": "sealbook run a@1.2.0 unit-status --sha256 x --from 'https://x/?a&b'"
        if run
        else None,
        "run_parts": ["sealbook run a@1.2.0 unit-status", "--sha256 x", "--from 'https://x/?<a>&b'"]
        if run
        else None,
    }


def _alias_views() -> list[dict[str, object]]:
    views = []
    provs = [
        PROV,
        {**PROV, "dev": False},
        {"signed": False, "version": "1.2.0", "manifest_digest": "d"},
    ]
    for prov, introduced, digest, snippets in itertools.product(
        provs,
        ["1.2.0", "1.0.0"],
        ["sha256:" + "ef" * 32, ""],
        [[], [_snippet(*f) for f in itertools.product([True, False], repeat=3)]],
    ):
        views.append(
            {
                "kind": "alias",
                "slug": "a-b<c>",
                "title": 'Disk "full" & <slow>',
                "revision": 3,
                "digest": digest,
                "introduced": introduced,
                "prov": prov,
                "target": "../../runbooks/a-b/r3.html",
                "snippets": snippets,
            }
        )
    return views


def _latest_views() -> list[dict[str, object]]:
    return [
        {
            "kind": "latest",
            "slug": "a-b",
            "title": 'T <&> "q"',
            "revision": 2,
            "digest": "sha256:" + "12" * 32,
            "target": "../runbooks/a-b/r2.html?x=<1>&y",
            "retired_in": retired,
            "since": "1.2.0",
        }
        for retired in (None, "1.3.0")
    ]


SITES = [
    SiteGlobals(n, p, d)
    for n, p, d in itertools.product(['Ops <&> "R"'], [False, True], [False, True])
]
PATHS = ["latest/a-b.html", "1.2.0/a-b.html", "index.html", "a/b/c/d.html"]


@pytest.mark.parametrize("sb", SITES)
def test_alias_and_latest_pages_equal_jinja(sb: SiteGlobals) -> None:
    env = light_environment()
    for path in PATHS:
        root = layout.root_of(path)
        for view in _alias_views():
            assert alias_page(view, root, sb).encode() == render_light(env, "alias", path, view, sb)
        for view in _latest_views():
            assert latest_page(view, root, sb).encode() == render_light(
                env, "latest", path, view, sb
            )


def test_fast_light_falls_back_to_jinja_when_unproven(monkeypatch: pytest.MonkeyPatch) -> None:
    from builder.site import light

    sb = SITES[0]
    env = light_environment()
    view = _latest_views()[0]
    monkeypatch.setitem(light.FAST, "latest", lambda v, r, s: "wrong")
    fast = FastLight(env, sb)
    reference = render_light(env, "latest", "latest/a-b.html", view, sb)
    assert fast.render("latest", "latest/a-b.html", view) == reference
    assert fast.render("latest", "latest/a-b.html", view) == reference
