"""site-manifest.json format, what it records, and the build's file roles."""

from __future__ import annotations

import json

import pytest

from tests.site_helpers import signed_site
from verifier.errors import InputError
from verifier.sitemanifest import SiteFile, SiteManifest

GEN = {"sealbook": "0.1.0", "renderer": {"mkdocs": "1.6.1"}}


def test_round_trip_and_canonical() -> None:
    sm = SiteManifest(
        GEN,
        {"site_name": "Runbooks"},
        False,
        ("1.0", "sha256:" + "a" * 64),
        {"index.html": SiteFile("page", "sha256:" + "b" * 64)},
    )
    assert SiteManifest.from_bytes(sm.to_bytes(), "x") == sm


def _doc(**changes: object) -> bytes:
    doc = {
        "schema": "sealbook.site/v2",
        "generator": GEN,
        "settings": {},
        "preview": False,
        "head": None,
        "files": {"a.html": {"role": "page", "digest": "sha256:" + "0" * 64}},
    }
    doc.update(changes)
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    "doc",
    [
        b"not json",
        b'{"schema": "sealbook.site/v2"}',
        _doc(schema="sealbook.site/v1"),
        _doc(files={"../etc/passwd": {"role": "page", "digest": "sha256:" + "0" * 64}}),
        _doc(files={"a.html": {"role": "evil", "digest": "sha256:" + "0" * 64}}),
        _doc(generator={"sealbook": "0", "theme": []}),
        _doc(settings=[]),
    ],
)
def test_malformed_site_manifest_is_an_input_error(doc: bytes) -> None:
    with pytest.raises(InputError):
        SiteManifest.from_bytes(doc, "site-manifest.json")


def test_manifest_records_versions_and_settings() -> None:
    from verifier.sitemanifest import generator

    build = signed_site().build
    sm = SiteManifest.from_bytes((build / "site-manifest.json").read_bytes(), "x")
    assert sm.generator == generator()
    assert set(sm.generator["renderer"]) >= {"mkdocs", "mkdocs-material", "jinja2"}
    assert sm.settings["site_name"] == "Runbooks"
    assert [s["identity"] for s in sm.settings["signers"]] == ["dev@sealbook.invalid"]


def test_built_site_roles() -> None:
    build = signed_site().build
    sm = SiteManifest.from_bytes((build / "site-manifest.json").read_bytes(), "x")
    roles = {p: f.role for p, f in sm.files.items()}
    assert roles["index.html"] == "page"
    assert roles["runbooks/ops/restart/r2.html"] == "page"
    assert roles["versions/1.1/runbooks/ops/restart.html"] == "alias"
    assert roles["runbooks/ops/restart/latest.html"] == "alias"
    assert roles["assets/versions.js"] == "version-data"
    assert roles["search/search_index.js"] == "search-index"
    assert roles["releases/1.1/manifest.json"] == "release-manifest"
    assert roles["releases/1.1/manifest.json.sigstore.json"] == "release-bundle"
    assert roles["releases/1.1/runbooks/ops/restart.md"] == "release-source"
    assert roles["assets/sealbook/iframe-worker/shim.js"] == "asset"
    assert roles["assets/sealbook/iframe-worker/LICENSE"] == "asset"
    assert any(r == "trusted-root" for r in roles.values())
    assert any(r == "theme-asset" for r in roles.values())
    assert sm.preview is False and sm.head is not None and sm.head[0] == "1.1"
    assert "sitemap.xml" not in roles and "404.html" not in roles


def test_preview_manifest_and_watermark() -> None:
    preview = signed_site().preview
    sm = SiteManifest.from_bytes((preview / "site-manifest.json").read_bytes(), "x")
    assert sm.preview is True and sm.head is None
    assert not any(p.startswith("releases/") for p in sm.files)
    for page in preview.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert 'name="sealbook-preview"' in text and "UNSIGNED PREVIEW" in text, page
        assert "sealbook run " not in text, page


def test_rebuild_reuses_released_pages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A second build of the same chain renders only the pages that follow the head."""
    from tests.site_helpers import _cli

    s = signed_site()
    out = tmp_path / "site"
    _cli(
        "sealbook",
        "build",
        "--releases",
        str(s.releases),
        "--out",
        str(out),
        "--policy",
        str(s.policy),
    )
    first = out.resolve()
    _cli(
        "sealbook",
        "build",
        "--releases",
        str(s.releases),
        "--out",
        str(out),
        "--policy",
        str(s.policy),
    )
    second = out.resolve()
    assert first != second and first.exists()  # the previous build is kept, the link flipped
    page = "runbooks/ops/restart/r1.html"
    assert (first / page).stat().st_ino == (
        second / page
    ).stat().st_ino  # hard-linked, not re-rendered
    assert (first / "index.html").stat().st_ino != (second / "index.html").stat().st_ino
