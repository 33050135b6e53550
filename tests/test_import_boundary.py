"""The verifier stands alone: importing it loads neither the builder nor mkdocs.

`verify site` is the one exception: it proves a site by rendering it again, so it loads the
renderer lazily, and only once the releases have verified.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(out.split())


def test_verifier_imports_neither_builder_nor_mkdocs() -> None:
    mods = _loaded_after(
        "import importlib, pkgutil, verifier\n"
        "for m in pkgutil.walk_packages(verifier.__path__, 'verifier.'):\n"
        "    importlib.import_module(m.name)"
    )
    assert "verifier.commands.release" in mods
    assert not {m for m in mods if m.split(".")[0] in {"builder", "mkdocs", "material", "jinja2"}}


def test_verifier_cli_never_imports_builder_or_mkdocs() -> None:
    mods = _loaded_after(
        "from verifier._cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])"
    )
    assert not {m for m in mods if m.split(".")[0] in {"builder", "mkdocs", "material"}}


_RENDERER = {"builder", "mkdocs", "material", "jinja2"}


def _loaded_by_cli(argv: list[str]) -> set[str]:
    return _loaded_after(
        "from verifier._cli import main\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    main({argv!r})"
    )


def test_release_releases_and_logs_commands_never_load_the_renderer(
    run_releases: Path, tmp_path: Path
) -> None:
    releases = str(run_releases / "releases")
    policy = ["--policy", str(run_releases / "dev/sealbook.dev.toml")]
    log = tmp_path / "runs.jsonl"
    log.write_bytes(b"")
    for argv in (
        ["releases", releases, *policy],
        ["release", f"{releases}/1.1.0", *policy],
        ["logs", str(log), "--releases", releases, *policy],
        ["summary", str(log), "--releases", releases, *policy],
    ):
        mods = _loaded_by_cli(argv)
        assert "verifier.release" in mods, argv
        assert not {m for m in mods if m.split(".")[0] in _RENDERER}, argv


def test_verify_site_loads_the_renderer_only_after_the_releases_verify(
    run_releases: Path, tmp_path: Path
) -> None:
    """`verify site` proves a site by rendering it again: the one, lazy, exception."""
    site = tmp_path / "site"
    site.mkdir()
    broken = tmp_path / "releases"
    shutil.copytree(run_releases / "releases", broken)
    (broken / "1.1.0/manifest.json").write_bytes(b"{}")
    policy = ["--policy", str(run_releases / "dev/sealbook.dev.toml")]
    mods = _loaded_by_cli(["site", str(site), "--releases", str(broken), *policy])
    assert "verifier.release" in mods
    assert not {m for m in mods if m.split(".")[0] in _RENDERER}
