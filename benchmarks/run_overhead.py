"""What `sealbook run` adds to a snippet `true`, cold and warm, against `bash -c true`.

    .venv/bin/python benchmarks/run_overhead.py [--runs 20]

Signs a one-runbook release with the loopback dev instance, then times, as subprocesses:
  - baseline: `bash --noprofile --norc -c true`;
  - cold: `sealbook run ... --sha256 ...` with an empty verdict cache each time (full offline
    Sigstore verification, importing sigstore);
  - warm: the same with the per-host verdict cache filled (sigstore not imported).
Each sealbook run also appends `started` and `finished` records (flock + fsync) to a log.
Prints medians and the warm overhead over the baseline (goal: <= 150 ms).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.release import make_release  # noqa: E402
from builder.runbook import load_catalog  # noqa: E402
from builder.sign import SigningTarget  # noqa: E402
from verifier.manifest import Manifest  # noqa: E402

RUNBOOK = """# Overhead

## Nothing
```bash {#noop}
true
```
"""


def median_ms(argv: list[str], runs: int, env: dict[str, str], before: object = None) -> float:
    times = []
    for _ in range(runs):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(
            argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sealbook-bench-run-"))
    try:
        (work / "runbooks/bench").mkdir(parents=True)
        (work / "runbooks/bench/overhead.md").write_text(RUNBOOK, encoding="utf-8")
        target = SigningTarget(instance="dev", dev_state=work / "dev")
        make_release(load_catalog(work / "runbooks"), "1.0.0", work / "releases", target)
        raw = (work / "releases/1.0.0/manifest.json").read_bytes()
        snippet = Manifest.from_bytes(raw).runbook("bench/overhead").snippet("noop")  # type: ignore[union-attr]
        assert snippet is not None
        cache = work / "cache"
        env = {**os.environ, "SEALBOOK_CACHE_DIR": str(cache)}
        sealbook = [sys.executable, "-m", "builder._cli", "run", "bench/overhead@1.0.0", "noop"]
        sealbook += ["--sha256", snippet.digest.removeprefix("sha256:")]
        sealbook += ["--releases", str(work / "releases"), "--log", str(work / "runs.jsonl")]
        sealbook += ["--policy", str(work / "dev/sealbook.dev.toml")]
        bash = ["/bin/bash", "--noprofile", "--norc", "-c", "true"]
        base = median_ms(bash, args.runs, env)
        cold = median_ms(sealbook, args.runs, env, before=lambda: shutil.rmtree(cache, True))
        warm = median_ms(sealbook, args.runs, env)
        print(f"bash -c true:            {base:7.1f} ms (median of {args.runs})")
        print(f"sealbook run, cold:      {cold:7.1f} ms (overhead {cold - base:6.1f} ms)")
        print(
            f"sealbook run, warm:      {warm:7.1f} ms (overhead {warm - base:6.1f} ms; goal <= 150)"
        )
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
