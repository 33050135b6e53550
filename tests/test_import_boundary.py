"""The verifier stands alone: importing it loads neither the builder nor mkdocs."""

from __future__ import annotations

import subprocess
import sys


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
