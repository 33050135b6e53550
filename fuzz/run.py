"""Fuzz sealbook's parsers and verifier entry points: >= 10,000 inputs per target.

Not part of the test suite (tests/test_fuzz_properties.py runs the bounded version).
Inputs are random bytes, random structured values and mutations (bit flips, hostile chunk
insertions, deletions, truncations, splices, JSON-level edits) of valid seeds: the sample
catalog's runbooks and a real dev-signed release, policy, bundle, run log and site manifest
made on the spot. A *crash* is any exception other than the project's own error classes
(and, for functions documented never to raise, any exception at all).

Usage::

    .venv/bin/python fuzz/run.py [--count 10000] [--seed 1] [--only TARGET ...]
                                 [--crashes DIR]

Prints one line per target: inputs run, crashes, elapsed; exits 1 if anything crashed.
Crashing inputs are written to ``--crashes`` (default: a temporary folder) for replay.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from datetime import UTC, datetime  # noqa: E402

from builder.frontmatter import FrontMatterError, read_front_matter  # noqa: E402
from builder.lint import _check_characters, _check_names  # noqa: E402
from builder.release import make_release  # noqa: E402
from builder.runbook import load_catalog, parse_runbook, split_lines  # noqa: E402
from builder.runlog import RunLog  # noqa: E402
from builder.sign import SigningTarget  # noqa: E402
from verifier._cli import main as verify_main  # noqa: E402
from verifier.digests import digest, signed_text  # noqa: E402
from verifier.errors import InputError, SealbookError, TrustError  # noqa: E402
from verifier.logs import LogVerifier, ReleaseIndex, verify_log  # noqa: E402
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest  # noqa: E402
from verifier.policy import TrustPolicy  # noqa: E402
from verifier.runlog import Head, decode, line_hash, record_problem  # noqa: E402
from verifier.signature import parse_bundle  # noqa: E402
from verifier.sitemanifest import SiteManifest  # noqa: E402

CHUNKS = [
    b"\x00", b"\xff", b"\xc0\xaf", b"\n", b"\r", b"\r\n", b"[" * 3000, b"{" * 50, b'"\\ud800"',
    b"NaN", b"-1", b"1e999", b"{}", b"[]", b"null", b"true", b'"../../etc/passwd"', b"\\", b'"',
    b"\xe2\x80\xae", b"\xe2\x80\x8b", b"\xef\xbb\xbf", b"```", b"~~~", b"---\n", b"+++\n",
    b"&a [*a, *a]", b"!!python/object:os.system", b"$ ", b"<<EOF\n", b"{#../x}", b"\t",
    b'"' + b"a" * 70000 + b'"', b"9" * 5000,
]  # fmt: skip


def mutate(rng: random.Random, seed: bytes, others: list[bytes]) -> bytes:
    """A few random edits of ``seed``."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 5)):
        at = rng.randint(0, len(data)) if data else 0
        action = rng.randrange(6)
        if action == 0 and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif action == 1:
            data[at:at] = rng.choice(CHUNKS)
        elif action == 2:
            del data[at : at + rng.randint(1, 64)]
        elif action == 3:
            data = data[:at]
        elif action == 4:
            other = rng.choice(others or [seed])
            start = rng.randint(0, len(other))
            data[at:at] = other[start : start + rng.randint(1, 200)]
        else:
            data[at:at] = rng.randbytes(rng.randint(1, 16))
    return bytes(data)


def random_json(rng: random.Random, depth: int = 0) -> object:
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70)
    if kind == 3:
        return rng.uniform(-1e300, 1e300)
    if kind == 4:
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x110000)])) for _ in range(rng.randrange(12)))  # fmt: skip
    if kind == 5:
        return rng.choice(["../x", "sha256:" + "0" * 64, "sealbook.release/v1", "1.0", "", "a/b"])
    if kind in (6, 7):
        return {str(random_json(rng, depth + 1))[:10]: random_json(rng, depth + 1) for _ in range(rng.randrange(4))}  # fmt: skip
    return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]


def json_mutate(rng: random.Random, seed: bytes) -> bytes:
    """Parse ``seed``, replace, delete or add one value somewhere, serialise."""
    doc = json.loads(seed)
    node = doc
    for _ in range(rng.randrange(7)):
        children = (
            list(node.values())
            if isinstance(node, dict)
            else node
            if isinstance(node, list)
            else []
        )
        children = [c for c in children if isinstance(c, dict | list) and c]
        if not children:
            break
        node = rng.choice(children)
    if isinstance(node, dict) and node:
        key = rng.choice(sorted(node))
        action = rng.randrange(3)
        if action == 0:
            del node[key]
        elif action == 1:
            node[key] = random_json(rng)
        else:
            node[str(random_json(rng))[:8]] = random_json(rng)
    elif isinstance(node, list) and node:
        node[rng.randrange(len(node))] = random_json(rng)
    text = json.dumps(doc, ensure_ascii=rng.random() < 0.5, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


@dataclass
class Target:
    """One fuzz target: how to make an input, what to call, which errors are expected."""

    name: str
    make: Callable[[random.Random], object]
    call: Callable[[object], object]
    expected: tuple[type[BaseException], ...]


def generator(seeds: list[bytes], *, structured: bool = False) -> Callable[[random.Random], object]:
    def make(rng: random.Random) -> bytes:
        roll = rng.random()
        seed = rng.choice(seeds)
        if roll < 0.1:
            return rng.randbytes(rng.randrange(300))
        if roll < 0.15:
            return json.dumps(random_json(rng)).encode()
        if structured and roll < 0.55:
            with contextlib.suppress(ValueError):
                return json_mutate(rng, seed)
        return mutate(rng, seed, seeds)

    return make


# --- seeds -------------------------------------------------------------------------------------


@dataclass
class World:
    """Valid inputs made once: a signed release of the sample catalog, a log, a policy."""

    root: Path
    runbooks: list[bytes]
    manifest: bytes
    bundle: bytes
    policy_path: Path
    log: bytes
    head: Head
    index: ReleaseIndex


def make_world(root: Path) -> World:
    catalog = load_catalog(REPO / "runbooks")
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    folder = make_release(catalog, "1.0", root / "releases", target)
    manifest = (folder / MANIFEST_NAME).read_bytes()
    parsed = Manifest.from_bytes(manifest)
    log = RunLog(root / "runs.jsonl")
    for rb in parsed.runbooks[:5]:
        for sn in [s for s in rb.snippets if s.executable][:2]:
            run = {
                "slug": rb.slug, "release": "1.0", "manifest_digest": digest(manifest),
                "snippet_id": sn.id, "snippet_digest": sn.digest,
                "params": dict.fromkeys(sn.params, "x"), "host": "h", "user": "u",
                "time": "2099-01-01T00:00:00.000Z", "run_id": f"{rb.slug.replace('/', '.')}.{sn.id}",
            }  # fmt: skip
            log.append({**run, "type": "started"})
            log.append({**run, "type": "finished", "exit_code": 0, "duration_ms": 1, "stdout_digest": digest(b""), "stderr_digest": digest(b"")})  # fmt: skip
    raw_log = (root / "runs.jsonl").read_bytes()
    lines = raw_log.splitlines(keepends=True)
    policy_path = root / "dev" / "sealbook.dev.toml"
    policy = TrustPolicy.load(policy_path)
    return World(
        root=root,
        runbooks=[rb.source for rb in catalog.runbooks],
        manifest=manifest,
        bundle=(folder / BUNDLE_NAME).read_bytes(),
        policy_path=policy_path,
        log=raw_log,
        head=Head(len(lines), line_hash(lines[-1])),
        index=ReleaseIndex(root / "releases", policy, datetime(2099, 1, 2, tzinfo=UTC)),
    )


# --- targets -----------------------------------------------------------------------------------


def check_signed_text(data: object) -> None:
    text = str(data)
    signed = signed_text(text)
    assert signed_text(signed) == signed, "not idempotent"
    assert "\r" not in signed and signed.endswith("\n"), "line ends"
    assert signed == "\n" or not signed.endswith("\n\n"), "more than one final LF"


def parse_and_guard(data: object) -> None:
    """The parser (never raises) and the Trojan Source guard over what it found."""
    runbook, problems = parse_runbook("ops/fuzz", bytes(data), "ops/fuzz.md")  # type: ignore[arg-type]
    assert all("\n" not in str(p) for p in problems), "multi-line problem"
    if runbook is None:
        return
    list(_check_names(runbook))
    lines = split_lines(runbook.source.decode("utf-8"))
    for snippet in runbook.snippets:
        fence = lines[snippet.line - 1] if snippet.line <= len(lines) else ""
        list(_check_characters(runbook, snippet, fence))
        list(_check_characters(runbook, replace(snippet, executable=not snippet.executable), fence))


def front_matter(data: object) -> None:
    text = bytes(data).decode("utf-8", "replace")  # type: ignore[call-overload]
    read_front_matter([line.rstrip("\r\n") for line in split_lines(text)])


def log_lines(world: World) -> Callable[[object], None]:
    def run(data: object) -> None:
        raw = bytes(data)  # type: ignore[call-overload]
        for expect in (None, world.head):
            verifier = LogVerifier("fuzz.jsonl", world.index, expect)
            *lines, tail = raw.split(b"\n")
            for line in lines:
                verifier.line(line)
            if tail:
                verifier.line(tail, complete=False)
            results = verifier.close()
            for i in range(len(results)):
                assert "\n" not in results.result(i).detail
        assert results.failed() or raw == world.log, "an anchored log was changed unseen"
        # The file reader's fast path must agree with the line-by-line path.
        path = world.root / "fuzz.jsonl"
        path.write_bytes(raw)
        fast = verify_log(path, world.index, world.head)
        assert [fast.result(i).reason for i in range(len(fast))] == [
            results.result(i).reason for i in range(len(results))
        ], "fast path and full path disagree"

    return run


def run_record(data: object) -> None:
    record = decode(bytes(data))  # type: ignore[call-overload]
    if record is not None:
        record_problem(record)


def cli_argv(
    world: World, junk: Path
) -> tuple[Callable[[random.Random], object], Callable[[object], None]]:
    tokens = [
        "release", "releases", "bundle", "site", "logs", "--policy", "--format", "--bundle",
        "--cert-identity", "--cert-oidc-issuer", "--trusted-root", "--expect-latest",
        "--expect-head", "--releases", "--help", "text", "json", "junit", "-", "--", "", "\x00",
        "é\u202e", "1.0:sha256:" + "0" * 64, f"{world.head}", str(world.policy_path),
        str(world.root / "releases"), str(world.root / "releases" / "1.0"),
        str(world.root / "releases" / "1.0" / BUNDLE_NAME), str(world.root / "runs.jsonl"),
        str(world.root / "dev" / "trusted_root.json"), str(junk / "garbage"), str(junk / "fifo"),
        str(junk / "empty"), str(junk / "nope"), str(junk), "/", "/dev/null",
    ]  # fmt: skip

    def make(rng: random.Random) -> object:
        argv = [rng.choice(tokens) for _ in range(rng.randrange(9))]
        if rng.random() < 0.2 and argv:
            argv[rng.randrange(len(argv))] = rng.randbytes(6).decode("utf-8", "surrogateescape")
        return argv

    def call(argv: object) -> None:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = verify_main(list(argv))  # type: ignore[call-overload]
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 2
        assert code in (0, 1, 2, 3, 4), f"exit {code}: {err.getvalue().strip()[:300]}"
        assert "Traceback" not in err.getvalue()

    return make, call


def targets(world: World, junk: Path) -> list[Target]:
    site_manifest = json.dumps(
        {
            "schema": "sealbook.site/v1",
            "generator": {"sealbook": "0.1.0", "theme": ["mkdocs-material"]},
            "preview": False,
            "head": {"version": "1.0", "manifest_digest": digest(world.manifest)},
            "files": {"index.html": {"role": "page", "digest": "sha256:" + "1" * 64}},
        }
    ).encode()
    markdown = [*world.runbooks, b"---\ntitle: x\n---\n# T\n", b"+++\ntitle = 'x'\n+++\n# T\n"]
    cli_make, cli_call = cli_argv(world, junk)
    policy_raw = world.policy_path.read_bytes()
    return [
        Target("runbook-parser+guard", generator(markdown), parse_and_guard, ()),
        Target(
            "front-matter",
            generator([m for m in markdown if m[:3] in (b"---", b"+++")]),
            front_matter,
            (FrontMatterError,),
        ),
        Target(
            "signed-text",
            lambda r: mutate(r, rng_text(r), []).decode("utf-8", "replace"),
            check_signed_text,
            (),
        ),
        Target(
            "manifest",
            generator([world.manifest], structured=True),
            lambda d: Manifest.from_bytes(bytes(d)),
            (InputError,),
        ),
        Target(
            "policy",
            generator([policy_raw]),
            lambda d: TrustPolicy.from_toml(bytes(d), world.policy_path),
            (TrustError,),
        ),
        Target(
            "bundle",
            generator([world.bundle], structured=True),
            lambda d: parse_bundle(bytes(d), "b"),
            (InputError,),
        ),
        Target(
            "site-manifest",
            generator([site_manifest], structured=True),
            lambda d: SiteManifest.from_bytes(bytes(d), "s"),
            (InputError,),
        ),
        Target("run-record", generator(world.log.splitlines(), structured=True), run_record, ()),
        Target("log-verifier", generator([world.log]), log_lines(world), ()),
        Target("verify-cli-argv", cli_make, cli_call, ()),
    ]


def rng_text(rng: random.Random) -> bytes:
    return bytes(rng.choice(b"ab \r\n\t") for _ in range(rng.randrange(40)))


def run_target(
    target: Target, count: int, rng: random.Random, crashes: Path
) -> tuple[int, int, float]:
    found = 0
    start = time.perf_counter()
    for i in range(count):
        data = target.make(rng)
        try:
            target.call(data)
        except target.expected:
            pass
        except SealbookError as exc:
            if target.expected:  # a project error, but not the one this entry point promises
                found += 1
                _record(crashes, target, i, data, exc)
        except Exception as exc:  # that is what a crash is
            found += 1
            _record(crashes, target, i, data, exc)
    return count, found, time.perf_counter() - start


def _record(crashes: Path, target: Target, i: int, data: object, exc: BaseException) -> None:
    folder = crashes / target.name
    folder.mkdir(parents=True, exist_ok=True)
    payload = data if isinstance(data, bytes) else repr(data).encode("utf-8", "surrogateescape")
    (folder / f"{i}.input").write_bytes(payload)
    (folder / f"{i}.txt").write_text("".join(traceback.format_exception(exc)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="inputs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", nargs="*", help="run only these targets")
    parser.add_argument("--crashes", type=Path, help="where to write crashing inputs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sealbook-fuzz-") as tmp:
        root = Path(tmp)
        junk = root / "junk"
        junk.mkdir()
        (junk / "garbage").write_bytes(b"\xff[[[{")
        (junk / "empty").write_bytes(b"")
        os.mkfifo(junk / "fifo")
        world = make_world(root)
        crashes = args.crashes or root / "crashes"
        total = 0
        print(f"{'target':<22} {'inputs':>8} {'crashes':>8} {'elapsed':>9}")
        for target in targets(world, junk):
            if args.only and target.name not in args.only:
                continue
            rng = random.Random(f"{args.seed}:{target.name}")
            count, found, elapsed = run_target(target, args.count, rng, crashes)
            total += found
            print(f"{target.name:<22} {count:>8} {found:>8} {elapsed:>8.1f}s", flush=True)
        if total:
            kept = crashes if args.crashes else Path(tempfile.mkdtemp(prefix="sealbook-crashes-"))
            if not args.crashes:
                shutil.copytree(crashes, kept, dirs_exist_ok=True)
            print(f"{total} crash(es); inputs and tracebacks in {kept}")
    return 1 if total else 0


if __name__ == "__main__":
    raise SystemExit(main())
