"""Verify N dev-signed releases in one process, against the stock sigstore CLI on the same ones.

    .venv/bin/python benchmarks/verify_releases.py [--count 200] [--stock-count N]

Makes a chain of N small releases (one runbook each, every release changes it) signed by the
loopback dev instance through sigstore's real signing path, then times:
  - sealbook: `verify_releases` in one process (signature, signer, manifest, sources, snippets
    and the chain rules), plus the full `sealbook-verify releases` CLI as a subprocess;
  - baseline: `sigstore --trust-config T verify identity --offline` once per release (the
    stock CLI checks only the signature), as an auditor without sealbook would run it.
Prints both times and the ratio (goal: >= 100x).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.devinstance import DEV_IDENTITY, DEV_ISSUER, DevInstance  # noqa: E402
from builder.release import make_release  # noqa: E402
from builder.runbook import load_catalog  # noqa: E402
from builder.sign import SigningTarget  # noqa: E402
from verifier.policy import TrustPolicy  # noqa: E402
from verifier.release import verify_releases  # noqa: E402

RUNBOOK = """---
title: Benchmark runbook
service: bench
alerts: [BenchAlert]
---
# Benchmark runbook

## Check {n}

```bash {{#check}}
echo "release {n}"
```
"""


def make_chain(root: Path, count: int) -> DevInstance:
    catalog = root / "runbooks"
    (catalog / "bench").mkdir(parents=True)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    start = time.perf_counter()
    for n in range(count):
        (catalog / "bench" / "check.md").write_text(RUNBOOK.format(n=n), encoding="utf-8")
        make_release(load_catalog(catalog), f"1.0.{n}", root / "releases", target)
    print(
        f"signed {count} releases in {time.perf_counter() - start:.1f} s (dev instance, real signing path)"
    )
    return DevInstance(root / "dev")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--stock-count", type=int, default=None, help="stock CLI runs (default: all)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        dev = make_chain(root, args.count)
        dev.start()  # writes trust_config.json with live URLs; the stock CLI wants a full config
        dev.stop()
        policy = TrustPolicy.load(dev.policy_path)

        start = time.perf_counter()
        verdict = verify_releases(root / "releases", policy)
        in_process = time.perf_counter() - start
        assert verdict.ok and len(verdict.chain) == args.count, [
            r for r in verdict.results if not r.ok
        ][:3]

        start = time.perf_counter()
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "verifier._cli",
                "releases",
                str(root / "releases"),
                "--policy",
                str(dev.policy_path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        cli_time = time.perf_counter() - start
        assert cli.returncode == 0, cli.stderr

        stock_n = args.stock_count or args.count
        sigstore = Path(sys.executable).parent / "sigstore"
        start = time.perf_counter()
        for n in range(stock_n):
            rel = root / "releases" / f"1.0.{n}"
            proc = subprocess.run(
                [
                    str(sigstore),
                    "--trust-config",
                    str(dev.trust_config_path),
                    "verify",
                    "identity",
                    "--offline",
                    "--bundle",
                    str(rel / "manifest.json.sigstore.json"),
                    "--cert-identity",
                    DEV_IDENTITY,
                    "--cert-oidc-issuer",
                    DEV_ISSUER,
                    str(rel / "manifest.json"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
        stock = (time.perf_counter() - start) * args.count / stock_n

    print(f"releases: {args.count}")
    print(
        f"sealbook verify_releases (in process):   {in_process:8.2f} s  ({in_process / args.count * 1000:.1f} ms/release)"
    )
    print(f"sealbook-verify releases (CLI, cold):    {cli_time:8.2f} s")
    scaled = f" (extrapolated from {stock_n} runs)" if stock_n != args.count else ""
    print(f"stock sigstore verify identity x{args.count}:  {stock:8.2f} s{scaled}")
    print(f"ratio stock / sealbook in process: {stock / in_process:6.1f}x  (goal >= 100x)")
    print(f"ratio stock / sealbook CLI:        {stock / cli_time:6.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
