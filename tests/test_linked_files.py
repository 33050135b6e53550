"""Relative images and files a runbook links are frozen into the release by digest and served
from it (DESIGN.md "Runbook source"); a link to another runbook keeps its #fragment."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import run_cli

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415478da63f8cf00000301010018dd8db00000000049454e44ae426082"
)
RESTART = """# Restart

The dashboard when it happens:

![error panel](img/panel.png)

The [fix script](img/fix.sh), the [other runbook](other.md#the-section) and a
[missing file](img/missing.png).

```bash
echo restarted
```
"""


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from builder.devinstance import DevInstance
    from builder.release import make_release
    from builder.runbook import load_catalog
    from builder.sign import SigningTarget

    root = tmp_path_factory.mktemp("linked")
    (root / "runbooks/ops/img").mkdir(parents=True)
    (root / "runbooks/ops/restart.md").write_text(RESTART, encoding="utf-8")
    (root / "runbooks/ops/other.md").write_text("# Other\n\n## The section\n\ntext\n")
    (root / "runbooks/ops/img/panel.png").write_bytes(PNG)
    (root / "runbooks/ops/img/fix.sh").write_text("echo fix\n")
    (root / "outside.png").write_bytes(PNG)
    (root / "runbooks/ops/img/escape.png").symlink_to(root / "outside.png")
    with DevInstance(root / "dev") as dev:
        target = SigningTarget(instance="dev", dev_state=root / "dev")
        make_release(load_catalog(root / "runbooks"), "1.0", root / "releases", target)
        policy = dev.policy_path
    build = run_cli(
        "sealbook", "build", "--releases", str(root / "releases"), "--out", str(root / "site"),
        "--policy", str(policy), "--cache-dir", str(root / "cache"),
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return root


def test_linked_files_are_frozen_and_listed_by_digest(made: Path) -> None:
    from verifier.digests import digest

    manifest = json.loads((made / "releases/1.0/manifest.json").read_bytes())
    assert manifest["files"] == [
        {"path": "runbooks/ops/img/fix.sh", "digest": digest(b"echo fix\n")},
        {"path": "runbooks/ops/img/panel.png", "digest": digest(PNG)},
    ]
    assert (made / "releases/1.0/runbooks/ops/img/panel.png").read_bytes() == PNG


def test_page_shows_the_image_from_the_release_and_keeps_fragments(made: Path) -> None:
    page = (made / "site/runbooks/ops/restart/r1.html").read_text(encoding="utf-8")
    assert '<img src="../../../releases/1.0/runbooks/ops/img/panel.png" alt="error panel">' in page
    assert 'href="../../../releases/1.0/runbooks/ops/img/fix.sh"' in page
    assert 'href="../../ops/other/latest.html#the-section"' in page
    assert (made / "site/releases/1.0/runbooks/ops/img/panel.png").read_bytes() == PNG
    proc = run_cli(
        "sealbook-verify",
        "site",
        str(made / "site"),
        "--policy",
        str(made / "dev/sealbook.dev.toml"),
    )
    assert proc.returncode == 0, proc.stdout[-2000:]


@pytest.mark.parametrize(
    ("change", "reason"),
    [("edit", "source-digest-mismatch"), ("remove", "source-missing")],
)
def test_a_tampered_linked_file_fails_the_release(
    made: Path, tmp_path: Path, change: str, reason: str
) -> None:
    releases = tmp_path / "releases"
    shutil.copytree(made / "releases", releases)
    image = releases / "1.0/runbooks/ops/img/panel.png"
    if change == "edit":
        image.write_bytes(PNG + b"\0")
    else:
        image.unlink()
    proc = run_cli(
        "sealbook-verify", "release", str(releases / "1.0"),
        "--policy", str(made / "dev/sealbook.dev.toml"), "--format", "json",
    )  # fmt: skip
    assert proc.returncode == 1
    assert [r["reason"] for r in json.loads(proc.stdout)["results"]] == [reason]


def test_an_image_planted_on_the_site_is_not_the_release_copy(made: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree((made / "site").resolve(), site)
    (site / "releases/1.0/runbooks/ops/img/panel.png").write_bytes(PNG + b"x")
    proc = run_cli(
        "sealbook-verify",
        "site",
        str(site),
        "--releases",
        str(made / "releases"),
        "--policy",
        str(made / "dev/sealbook.dev.toml"),
        "--format",
        "json",
    )
    failed = {r["item"]: r["reason"] for r in json.loads(proc.stdout)["results"] if not r["ok"]}
    assert (
        proc.returncode == 1
        and failed["releases/1.0/runbooks/ops/img/panel.png"] == "site-file-modified"
    )
