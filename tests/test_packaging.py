"""Packaging: every package the code imports is declared with bounds; a clone alone passes.

A clone without ``../shared`` beside it (as anyone cloning the repository has it) must pass the
README's test command: the tests that need the shared real Sigstore bundles or corpora skip
with one line naming what is missing and where it comes from, while ``.ci/run`` (which sets
``$SEALBOOK_REQUIRE_SHARED=1``) turns that absence into a failure.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import REPO

OWN = {"builder", "verifier"}
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared() -> dict[str, str]:
    """Runtime dependencies from pyproject.toml: normalized name -> version specifier."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {}
    for requirement in project["dependencies"]:
        match = REQUIREMENT.match(requirement)
        assert match, requirement
        out[normalize(match.group(1))] = match.group(2)
    return out


def imported_top_level_modules() -> dict[str, str]:
    """Third-party top-level modules imported by builder/ and verifier/: module -> first file."""
    found: dict[str, str] = {}
    for package in sorted(OWN):
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top not in OWN and top not in sys.stdlib_module_names:
                        found.setdefault(top, str(path.relative_to(REPO)))
    return found


def test_every_directly_imported_package_is_declared() -> None:
    distributions = importlib.metadata.packages_distributions()
    deps = declared()
    missing = []
    for module, where in sorted(imported_top_level_modules().items()):
        names = {normalize(d) for d in distributions.get(module, [])}
        assert names, f"{module} (imported in {where}) is not installed"
        if not names & deps.keys():
            missing.append(f"{module} ({where}) from {sorted(names)}")
    assert missing == [], "imported but not declared in pyproject.toml"


def test_every_dependency_has_a_lower_and_an_upper_bound() -> None:
    for name, spec in declared().items():
        assert ">=" in spec and "<" in spec.replace("<=", ""), f"{name}{spec}"


def test_project_metadata_names_classifiers_and_python() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"
    assert "Programming Language :: Python :: 3.11" in project["classifiers"]
    assert project["license"] and project["readme"] == "README.md"


def pytest_without_shared(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """The README's test command on tests that need ../shared, with ../shared absent."""
    missing = tmp_path / "no-shared" / "fixtures" / "sigstore-real"
    full_env = {k: v for k, v in os.environ.items() if k != "SEALBOOK_REQUIRE_SHARED"}
    full_env.update(SEALBOOK_FIXTURES=str(missing), **env)
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs",
            # Its own temporary root: pytest prunes old ones, racing the outer run's.
            "--basetemp", str(tmp_path / "basetemp"),
            "tests/test_verify_bundle.py::test_conformance_happy_path_v03",
            "tests/test_corpora.py::test_every_executable_snippet_runs_as_signed",
        ],
        cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_clone_without_shared_skips_those_tests_with_one_line_each(tmp_path: Path) -> None:
    result = pytest_without_shared(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    skips = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert any("real Sigstore fixtures missing at" in s and "../shared" in s for s in skips)
    assert any("real runbook corpora missing at" in s for s in skips)
    assert "error" not in result.stdout.lower().replace("errors", "")


def test_ci_requires_shared_so_the_same_absence_fails(tmp_path: Path) -> None:
    result = pytest_without_shared(tmp_path, SEALBOOK_REQUIRE_SHARED="1")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "SEALBOOK_REQUIRE_SHARED=1 requires them" in result.stdout
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert ci.count("SEALBOOK_REQUIRE_SHARED=1") >= 2  # the README's tests and the offline run
