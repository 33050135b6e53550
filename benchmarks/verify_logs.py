"""Verify a generated 1,000,000-record run log, against `sha256sum` over the same file.

    .venv/bin/python benchmarks/verify_logs.py [--records 1000000] [--format text]

Signs the sample catalog once as a dev release (the loopback dev instance, sigstore's real
signing path), then writes a valid log of started/finished pairs of that release's
executable snippets with realistic fields (host, user, run id, declared parameters,
digests): ~300-450 bytes a record. Times, on the same file in the same run:
  - `sealbook-verify logs LOG --releases R --policy P` as a subprocess (output to /dev/null);
  - the baseline `sha256sum LOG` (one hash over the bytes; the verifier hashes every line).
Prints both times, records/s and the ratio (goal: <= 3x). The verifier uses
`$SEALBOOK_LOG_WORKERS` processes (default: the usable CPUs); set it to 1 for the serial path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
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
from verifier.digests import canonical_json, digest  # noqa: E402
from verifier.logs import default_workers  # noqa: E402
from verifier.manifest import Manifest  # noqa: E402
from verifier.runlog import GENESIS, SCHEMA  # noqa: E402

HOSTS = [f"web-{i:02d}.prod.eu-west-1.example.com" for i in range(12)]
USERS = ["oncall", "alice", "bob", "sre-bot"]


def sign_release(work: Path) -> tuple[Path, Path, Manifest]:
    """One dev-signed release of the sample catalog; return (releases, policy, manifest)."""
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    make_release(load_catalog(REPO / "runbooks"), "2026.11.0", work / "releases", target)
    raw = (work / "releases/2026.11.0/manifest.json").read_bytes()
    return work / "releases", work / "dev/sealbook.dev.toml", Manifest.from_bytes(raw)


def write_log(path: Path, manifest: Manifest, manifest_digest: str, count: int) -> None:
    """``count`` records (started/finished pairs) of a valid chain, written fast."""
    snippets = [(rb.slug, s) for rb in manifest.runbooks for s in rb.snippets if s.executable]
    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    prev, out, checked = GENESIS, [], False
    stdout_digests = [digest(f"output {i}\n".encode()) for i in range(64)]
    with path.open("wb") as fh:
        for seq in range(1, count + 1):
            pair = (seq - 1) // 2
            slug, snippet = snippets[pair % len(snippets)]
            record = {
                "schema": SCHEMA,
                "seq": seq,
                "prev": prev,
                "type": "started" if seq % 2 else "finished",
                "time": f"2030-01-01T00:{(pair // 60000) % 60:02d}:{(pair // 1000) % 60:02d}.{pair % 1000:03d}Z",
                "run_id": f"{pair:032x}",
                "host": HOSTS[pair % len(HOSTS)],
                "user": USERS[pair % len(USERS)],
                "slug": slug,
                "release": manifest.version,
                "manifest_digest": manifest_digest,
                "snippet_id": snippet.id,
                "snippet_digest": snippet.digest,
                "params": {p: f"value-{pair % 97}" for p in snippet.params},
            }
            if seq % 2 == 0:
                record |= {
                    "exit_code": pair % 3,
                    "duration_ms": pair % 5000,
                    "stdout_digest": stdout_digests[pair % 64],
                    "stderr_digest": stdout_digests[(pair + 1) % 64],
                }
            line = dumps(record).encode("utf-8") + b"\n"
            if not checked:  # the fast encoder is RFC 8785 for these records
                assert line == canonical_json(record) + b"\n"
                checked = True
            prev = "sha256:" + hashlib.sha256(line).hexdigest()
            out.append(line)
            if len(out) >= 10000:
                fh.write(b"".join(out))
                out.clear()
        fh.write(b"".join(out))


def timed(argv: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0,):
        sys.stderr.write(proc.stderr.decode(errors="replace")[-2000:])
    return elapsed, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--format", default="text", choices=["text", "json", "junit"])
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sealbook-bench-logs-"))
    try:
        releases, policy, manifest = sign_release(work)
        manifest_digest = digest((releases / "2026.11.0/manifest.json").read_bytes())
        log = work / "runs.jsonl"
        start = time.perf_counter()
        write_log(log, manifest, manifest_digest, args.records)
        size = log.stat().st_size
        print(
            f"log: {args.records:,} records, {size / 1e6:.1f} MB, {size / args.records:.0f} bytes/record "
            f"(generated in {time.perf_counter() - start:.1f} s)"
        )
        verify = [sys.executable, "-m", "verifier._cli", "logs", str(log)]
        verify += ["--releases", str(releases), "--policy", str(policy), "--format", args.format]
        sha_time, _ = timed(["sha256sum", str(log)])
        ours, rc = timed(verify)
        sha_time = min(sha_time, timed(["sha256sum", str(log)])[0])
        ours = min(ours, timed(verify)[0])
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"sha256sum:            {sha_time:7.2f} s  ({args.records / sha_time:,.0f} records/s)"
        )
        print(
            f"sealbook-verify logs: {ours:7.2f} s  ({args.records / ours:,.0f} records/s; "
            f"exit {rc}, --format {args.format}, workers {default_workers()})"
        )
        print(f"ratio: {ours / sha_time:.2f}x  (goal <= 3x)")
        return 0 if rc == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
