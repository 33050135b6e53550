"""Shared helpers of the site tests: a small hostile catalog, dev-signed releases, one build."""

from __future__ import annotations

import atexit
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from verifier._cli import main as verify_main
from verifier.digests import digest
from verifier.sitemanifest import SiteFile, SiteManifest

HOSTILE = """---
title: '<script>alert("t1")</script> "onmouseover="alert(2)'
summary: 'javascript:alert(3)'
service: '<b onclick=alert(4)>svc</b>'
severity: high
tags: ['<img src=x onerror=alert(5)>', '" onfocus="alert(6)']
alerts: ['"><script>alert(7)</script>', 'XssAlert']
---
# Evil <script>alert(8)</script>

<script>alert(9)</script>
<img src=x onerror=alert(10)>
<div onmouseover="alert(11)">raw html</div>

[js](javascript:alert(12)) [data](data:text/html,<script>alert(13)</script>)
[vb](vbscript:msgbox(14)) [spaced]( JaVaScRiPt:alert(15)) ![img](javascript:alert(16))
<a href="javascript:alert(17)">raw link</a> [ok](https://example.com/) [sib](../ops/restart.md)

!!! note "<script>alert(18)</script>"
    admonition body <b onmouseover=alert(19)>x</b>

    indented code is not code <script>alert(20)</script>

```bash {#evil-echo}
echo "</code></pre><script>alert(21)</script>"
```
"""

RESTART_V1 = """---
title: Restart the service
service: ops
severity: low
alerts: [ServiceDown]
---
# Restart the service

Check it first.

```bash {#status}
systemctl status app
```

Then restart:

```console {#restart}
$ systemctl restart app
$ systemctl is-active app
active
```

```promql
up{job="app"} == 0
```
"""

RESTART_V2 = RESTART_V1.replace("systemctl status app", "systemctl status app --no-pager")

GONE = """# Soon retired

```sh
echo bye
```
"""


@dataclass(frozen=True)
class SignedSite:
    """One dev-signed chain of two releases and the site built from it."""

    root: Path
    releases: Path
    policy: Path
    site: Path
    """The published symlink."""
    build: Path
    """The build folder it points at."""
    preview: Path
    """A preview build (its folder) of the same working tree."""


def write_catalog(folder: Path, files: dict[str, str]) -> None:
    """Write runbook sources under ``folder``, removing any others."""
    if folder.exists():
        shutil.rmtree(folder)
    for slug, text in files.items():
        path = folder / f"{slug}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def verify(site: Path, policy: Path, *extra: str) -> tuple[int, dict[str, dict[str, object]]]:
    """Run ``sealbook-verify site`` in-process; (exit code, results by item)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = verify_main(["site", str(site), "--policy", str(policy), "--format", "json", *extra])
    report = json.loads(out.getvalue())
    return code, {str(r["item"]): r for r in report["results"]}


def failures(results: dict[str, dict[str, object]]) -> dict[str, str]:
    """Failed items and their reason codes."""
    return {item: str(r["reason"]) for item, r in results.items() if not r["ok"]}


def rehash(site: Path, path: str) -> None:
    """Update site-manifest.json for ``path`` as an attacker who can rewrite it would."""
    sm_path = site / "site-manifest.json"
    sm = SiteManifest.from_bytes(sm_path.read_bytes(), str(sm_path))
    files = dict(sm.files)
    role = files[path].role if path in files else "page"
    files[path] = SiteFile(role, digest((site / path).read_bytes()))
    sm_path.write_bytes(
        SiteManifest(sm.generator, sm.settings, sm.preview, sm.head, files).to_bytes()
    )


def copy_site(build: Path, target: Path) -> Path:
    """A private copy of a built site (its folder, not the symlink)."""
    shutil.copytree(build, target)
    return target


@cache
def signed_site() -> SignedSite:
    """Build the chain and the site ONCE per test process (shared by every site test module).

    Release 1.0: hostile + restart r1 + gone; release 1.1: restart r2, gone retired.
    """
    from builder.devinstance import DevInstance
    from builder.release import make_release
    from builder.runbook import load_catalog
    from builder.sign import SigningTarget

    root = Path(tempfile.mkdtemp(prefix="sealbook-site-tests-"))
    atexit.register(shutil.rmtree, root, True)
    runbooks, releases = root / "runbooks", root / "releases"
    with DevInstance(root / "dev") as dev:
        target = SigningTarget(instance="dev", dev_state=root / "dev")
        write_catalog(
            runbooks, {"xss/hostile": HOSTILE, "ops/restart": RESTART_V1, "ops/gone": GONE}
        )
        make_release(load_catalog(runbooks), "1.0", releases, target)
        write_catalog(runbooks, {"xss/hostile": HOSTILE, "ops/restart": RESTART_V2})
        make_release(load_catalog(runbooks), "1.1", releases, target)
        policy = dev.policy_path
    site = root / "site"
    code = _cli(
        "sealbook",
        "build",
        "--releases",
        str(releases),
        "--out",
        str(site),
        "--policy",
        str(policy),
    )
    assert code == 0, "the site did not build"
    preview = root / "preview"
    assert _cli("sealbook", "preview", "--runbooks", str(runbooks), "--out", str(preview)) == 0
    return SignedSite(root, releases, policy, site, site.resolve(), preview.resolve())


def _cli(prog: str, *argv: str) -> int:
    from builder._cli import main as builder_main

    err, out = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = builder_main(list(argv)) if prog == "sealbook" else verify_main(list(argv))
    if code != 0:
        raise AssertionError(
            f"{prog} {' '.join(argv)} -> {code}\n{out.getvalue()}\n{err.getvalue()}"
        )
    return code


def build_process(releases: Path, out: Path, policy: Path) -> subprocess.CompletedProcess[str]:
    """`sealbook build` in a process of its own: a hang fails the test instead of the suite."""
    argv = ["build", "--releases", str(releases), "--out", str(out), "--policy", str(policy)]
    return subprocess.run(
        [sys.executable, "-m", "builder._cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "SEALBOOK_POLICY": ""},
    )
