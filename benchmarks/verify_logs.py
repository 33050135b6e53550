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

Then the same for a long-lived log: as many records over four releases, each first used a
quarter further into the log (as a log kept across releases names each new one when it
arrives), verified in parallel and, for reference, serially (one worker).
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
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from builder.release import make_release  # noqa: E402
from builder.runbook import load_catalog  # noqa: E402
from builder.sign import SigningTarget  # noqa: E402
from verifier.digests import canonical_json, digest  # noqa: E402
from verifier.logs import default_workers  # noqa: E402
from verifier.manifest import Manifest  # noqa: E402
from verifier.runlog import GENESIS, SCHEMA_V2, format_time  # noqa: E402

HOSTS = [f"web-{i:02d}.prod.eu-west-1.example.com" for i in range(12)]
USERS = ["oncall", "alice", "bob", "sre-bot"]


VERSIONS = ("2026.11.0", "2026.11.1", "2026.12.0", "2027.01.0")


def sign_releases(work: Path) -> tuple[Path, Path, list[tuple[Manifest, str]]]:
    """Four chained dev-signed releases of the sample catalog; (releases, policy, manifests)."""
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    signed = []
    for version in VERSIONS:
        make_release(load_catalog(REPO / "runbooks"), version, work / "releases", target)
        raw = (work / "releases" / version / "manifest.json").read_bytes()
        signed.append((Manifest.from_bytes(raw), digest(raw)))
    return work / "releases", work / "dev/sealbook.dev.toml", signed


def write_log(path: Path, releases: list[tuple[Manifest, str]], count: int) -> None:
    """``count`` records (started/finished pairs) of a valid chain, written fast.

    With several releases, the k-th is first used k/len of the way into the log.
    """
    pairs = (count + 1) // 2
    plans = [
        (m, d, [(rb.slug, s) for rb in m.runbooks for s in rb.snippets if s.executable])
        for m, d in releases
    ]
    dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
    prev, out, checked = GENESIS, [], False
    stdout_digests = [digest(f"output {i}\n".encode()) for i in range(64)]
    # One pair per ms from 200 s ago: after the releases' signing time minus the skew, and
    # never beyond the verification time plus the skew (record-time-future).
    base = datetime.now(UTC) - timedelta(seconds=200)
    times = [format_time(base + timedelta(milliseconds=pair)) for pair in range(pairs)]
    with path.open("wb") as fh:
        for seq in range(1, count + 1):
            pair = (seq - 1) // 2
            manifest, manifest_digest, snippets = plans[pair * len(plans) // pairs]
            slug, snippet = snippets[pair % len(snippets)]
            record = {
                "schema": SCHEMA_V2,
                "seq": seq,
                "prev": prev,
                "type": "started" if seq % 2 else "finished",
                "time": times[pair],
                "run_id": f"{pair:032x}",
                "host": HOSTS[pair % len(HOSTS)],
                "user": USERS[pair % len(USERS)],
                "invoker": USERS[(pair + 1) % len(USERS)],
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
        releases, policy, signed = sign_releases(work)
        one, four = work / "runs.jsonl", work / "runs-4-releases.jsonl"
        start = time.perf_counter()
        write_log(one, signed[:1], args.records)
        write_log(four, signed, args.records)
        size = one.stat().st_size
        print(
            f"log: {args.records:,} records, {size / 1e6:.1f} MB, {size / args.records:.0f} bytes/record "
            f"(both logs generated in {time.perf_counter() - start:.1f} s)"
        )

        def verify(log: Path) -> list[str]:
            argv = [sys.executable, "-m", "verifier._cli", "logs", str(log), "--releases"]
            return [*argv, str(releases), "--policy", str(policy), "--format", args.format]

        def best(argv: list[str]) -> tuple[float, int]:
            first, second = timed(argv), timed(argv)
            return min(first[0], second[0]), max(first[1], second[1])

        sha_time, _ = best(["sha256sum", str(one)])
        ours, rc = best(verify(one))
        many, rc_many = best(verify(four))
        os.environ["SEALBOOK_LOG_WORKERS"] = "1"
        serial, rc_serial = timed(verify(four))
        del os.environ["SEALBOOK_LOG_WORKERS"]
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(
            f"sha256sum:            {sha_time:7.2f} s  ({args.records / sha_time:,.0f} records/s)"
        )
        print(
            f"sealbook-verify logs: {ours:7.2f} s  ({args.records / ours:,.0f} records/s; "
            f"exit {rc}, --format {args.format}, workers {default_workers()})"
        )
        print(f"ratio: {ours / sha_time:.2f}x  (goal <= 3x)")
        print(
            f"4 releases, each first used a quarter further in: {many:.2f} s, "
            f"{many / sha_time:.2f}x sha256sum (exit {rc_many}); serially {serial:.2f} s "
            f"(exit {rc_serial})"
        )
        return 0 if rc == rc_many == rc_serial == 0 else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
