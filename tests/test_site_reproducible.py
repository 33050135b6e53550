"""A signed site is reproducible: the same releases, policy and versions give the same bytes.

`sealbook-verify site` proves a site by rendering it again and comparing every byte, so a
build must not depend on where or by whom it runs (folder, cwd, HOME, user, TZ, locale,
umask) nor on its history (an incremental build reuses pages from the previous build).
Every comparison here covers the exact file set and every file's bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.site_helpers import write_catalog

VERSIONS = ("1.0", "1.1", "1.2")

DISK = """---
title: Disk filling up – Überlauf «naïve» ✓
service: storage
severity: high
tags: [storage, capacity]
alerts: [DiskPressure, DiskPressureCritical]
---
# Disk filling up

Find what grows, then free space. Zeitzone: irrelevant; größe: REV_DISK.

```bash {#usage params="HOST"}
ssh -o BatchMode=yes "${HOST:?}" df -h /var
```

```console {#largest}
$ du -xsh /var/* | sort -h | tail -n 5
4.0G /var/log
```

| Symptom      | Cause          |
|--------------|----------------|
| logs grow    | debug logging  |
| tmp grows    | stuck job      |

!!! warning "Never delete open files"
    Truncate them instead.

```bash {#truncate}
echo truncating
```
"""

RESTART = """---
title: Restart the service
service: ops
severity: low
alerts: [ServiceDown]
---
# Restart the service

Check it first (REV_RESTART).

```bash {#status}
systemctl status app --no-pager
```

## Restart

```bash {#restart}
echo hi
```

```promql
up{job="app"} == 0
```
"""

LATENCY = """---
title: api latency is high
service: api
severity: critical
alerts: [LatencyHigh, ServiceDown]
---
# api latency is high

Revision REV_LATENCY.

```bash {#restart}
echo restarting api
```
"""


def catalog(revs: dict[str, int]) -> dict[str, str]:
    """The catalog with each runbook at its revision (the slugs mix case on purpose)."""
    return {
        "Storage/disk-full": DISK.replace("REV_DISK", f"r{revs['disk']}"),
        "ops/restart": RESTART.replace("REV_RESTART", f"r{revs['restart']}"),
        "api/latency_high": LATENCY.replace("REV_LATENCY", f"r{revs['latency']}"),
    }


@dataclass(frozen=True)
class Chain:
    releases: Path
    """All three releases, 1.0 to 1.2."""
    policy: Path


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """Three dev-signed releases; each later one changes one runbook's text."""
    from builder.devinstance import DevInstance
    from builder.release import make_release
    from builder.runbook import load_catalog
    from builder.sign import SigningTarget

    root = tmp_path_factory.mktemp("reproducible")
    runbooks, releases = root / "runbooks", root / "releases"
    revs = {"disk": 1, "restart": 1, "latency": 1}
    with DevInstance(root / "dev") as dev:
        target = SigningTarget(instance="dev", dev_state=root / "dev")
        for version, changed in zip(VERSIONS, (None, "restart", "disk"), strict=True):
            if changed is not None:
                revs[changed] += 1
            write_catalog(runbooks, catalog(revs))
            make_release(load_catalog(runbooks), version, releases, target)
        policy = dev.policy_path
    return Chain(releases, policy)


def tree(out: Path) -> dict[str, bytes | str]:
    """Every entry of the published site (``out`` followed to its build folder).

    Regular files map to their bytes; anything else (a symlink, FIFO, device) to a
    description, so it can never compare equal to a file.
    """
    assert out.is_symlink(), f"{out} is not a published site"
    build = out.resolve(strict=True)
    found: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(build):
        base = Path(dirpath)
        for name in [*filenames, *(d for d in dirnames if (base / d).is_symlink())]:
            path = base / name
            rel = path.relative_to(build).as_posix()
            if path.is_symlink():
                found[rel] = f"symlink -> {os.readlink(path)}"
            elif path.is_file():
                found[rel] = path.read_bytes()
            else:
                found[rel] = "not a regular file"
    assert "site-manifest.json" in found
    return found


def assert_same_tree(got: dict[str, bytes | str], want: dict[str, bytes | str]) -> None:
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing and not extra, f"file sets differ: missing {missing}, extra {extra}"
    differ = sorted(p for p in want if got[p] != want[p])
    assert not differ, f"{len(differ)} of {len(want)} files differ: {differ[:20]}"


def build(
    releases: Path,
    out: Path,
    policy: Path,
    cache: Path,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    umask: int | None = None,
) -> subprocess.CompletedProcess[str]:
    """`sealbook build` as a child process, with its own verdict cache."""
    argv = [
        sys.executable, "-m", "builder._cli", "build", "--releases", str(releases),
        "--out", str(out), "--policy", str(policy), "--cache-dir", str(cache),
    ]  # fmt: skip
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {}), "SEALBOOK_POLICY": ""},
        cwd=cwd,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )
    assert proc.returncode == 0, f"build failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_builds_in_different_folders_and_environments_are_identical(
    chain: Chain, tmp_path: Path
) -> None:
    """Other folder, cwd, HOME, TMPDIR, user, time zone, locale and umask: the same bytes."""
    runs = []
    settings = (
        {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "USER": "alice"},
        # +12:45/+13:45, and an ASCII locale with Python's UTF-8 mode off.
        {"TZ": "Pacific/Chatham", "LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0", "USER": "bob"},
    )
    for n, (extra, umask) in enumerate(zip(settings, (0o022, 0o077), strict=True)):
        home, cwd, tmp = (
            tmp_path / f"home-{n}",
            tmp_path / f"cwd-{n}" / "deeper",
            tmp_path / f"tmp-{n}",
        )
        for folder in (home, cwd, tmp):
            folder.mkdir(parents=True)
        env = {**extra, "HOME": str(home), "LOGNAME": extra["USER"]}
        if n:  # an empty TMPDIR: Jinja's bytecode cache starts cold (the first one may be warm)
            env["TMPDIR"] = str(tmp)
        # Different depths and names of --out, so no path leaks through relative links.
        out = tmp_path / ("a" if n == 0 else "b/site-two/x") / "site"
        out.parent.mkdir(parents=True, exist_ok=True)
        build(chain.releases, out, chain.policy, tmp_path / f"verdicts-{n}", env=env, cwd=cwd,
              umask=umask)  # fmt: skip
        runs.append(tree(out))
    assert_same_tree(runs[1], runs[0])


@dataclass(frozen=True)
class Incremental:
    out: Path
    """The published site, built after each release in turn."""
    builds: list[Path]
    outputs: list[str]


@pytest.fixture(scope="module")
def incremental(chain: Chain, tmp_path_factory: pytest.TempPathFactory) -> Incremental:
    """One --out built after release 1.0, again after 1.1 and again after 1.2."""
    root = tmp_path_factory.mktemp("incremental")
    releases, out = root / "releases", root / "site"
    releases.mkdir()
    builds, outputs = [], []
    for version in VERSIONS:
        shutil.copytree(chain.releases / version, releases / version)
        outputs.append(build(releases, out, chain.policy, root / "verdicts").stdout)
        builds.append(out.resolve())
    return Incremental(out, builds, outputs)


def test_incremental_builds_equal_one_fresh_build(
    chain: Chain, incremental: Incremental, tmp_path: Path
) -> None:
    """Built after each of three releases (reusing pages each time) == built once at the end."""
    assert len(set(incremental.builds)) == 3, "every build goes into a new folder"
    for output in incremental.outputs[1:]:
        assert " 0 reused" not in output, f"a rebuild reused nothing: {output}"
    fresh = tmp_path / "fresh" / "site"
    fresh.parent.mkdir()
    build(chain.releases, fresh, chain.policy, tmp_path / "verdicts")
    assert_same_tree(tree(incremental.out), tree(fresh))


def test_verify_site_accepts_the_incrementally_built_site(
    chain: Chain, incremental: Incremental
) -> None:
    """`sealbook-verify site`, in its own process, proves the site built across three releases."""
    argv = [sys.executable, "-m", "verifier._cli", "site", str(incremental.out)]
    argv += ["--policy", str(chain.policy), "--format", "json"]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "SEALBOOK_POLICY": ""},
    )  # fmt: skip
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    results = json.loads(proc.stdout)["results"]
    assert all(r["ok"] for r in results)
    assert {r["item"] for r in results} == set(tree(incremental.out))
