"""The site builds with sealbook installed from its wheel into a fresh venv, outside the repo."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.site_helpers import signed_site

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_build_and_verify_from_the_wheel(tmp_path: Path) -> None:
    s = signed_site()
    dist = tmp_path / "dist"
    # hatchling comes from the venv if installed, else pip's (cached) build isolation.
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-build-isolation"]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            *isolation,
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        check=True,
        timeout=120,
    )
    wheel = next(dist.glob("sealbook-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60
    )
    bindir = venv / "bin"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(bindir / "python"),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        timeout=120,
    )
    # Dependencies come from the project venv's site-packages; its .pth files (the editable
    # install of this repo) are not processed from a path added this way.
    purelib = Path(
        subprocess.check_output(
            [
                str(bindir / "python"),
                "-c",
                "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            ],
            text=True,
        ).strip()
    )
    (purelib / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "outside"
    work.mkdir()
    where = subprocess.check_output(
        [str(bindir / "python"), "-c", "import builder, verifier; print(builder.__file__)"],
        cwd=work,
        text=True,
    )
    assert str(venv) in where and str(REPO) not in where
    build = subprocess.run(
        [
            str(bindir / "sealbook"),
            "build",
            "--releases",
            str(s.releases),
            "--out",
            "site",
            "--policy",
            str(s.policy),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    check = subprocess.run(
        [str(bindir / "sealbook-verify"), "site", "site", "--policy", str(s.policy)],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (work / "site" / "assets/sealbook/iframe-worker/shim.js").is_file()
