"""Property tests: hostile bytes reach every parser and entry point; only our errors come out.

Bounded for the suite (``max_examples`` <= 200, whole file well under 30 s); `fuzz/run.py`
runs the same targets for longer.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
from datetime import UTC, datetime
from importlib.util import find_spec
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from builder.release import make_release
from builder.runbook import load_catalog, parse_runbook
from builder.runlog import RunLog, RunLogError, read_tail
from builder.sign import SigningTarget
from verifier._cli import COMMANDS
from verifier._cli import main as verify_main
from verifier.digests import digest, signed_text, snippet_digest
from verifier.errors import InputError, TrustError
from verifier.logs import LogVerifier, ReleaseIndex, verify_log
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest
from verifier.policy import TrustPolicy
from verifier.runlog import Head, decode, line_hash, record_problem
from verifier.signature import parse_bundle
from verifier.sitemanifest import SiteManifest

FAST = settings(
    max_examples=200,
    deadline=None,
    # no_sockets (a monkeypatch) is function-scoped; it holds for every example alike.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
FEW = settings(FAST, max_examples=60)

CATALOG = {
    "ops/restart.md": (
        "---\ntitle: Restart\nalerts: [AppDown]\n---\n# Restart\n\n## Restart the app\n"
        '```bash {#restart params="APP"}\nsystemctl restart "${APP:?}"\n```\n\n'
        "```promql {#query}\nup == 0\n```\n"
    ),
    "db/failover.md": "# Failover\n\n```console\n$ pg_ctl promote\nserver promoting\n```\n",
}


class Seeds:
    """A real signed release, its policy and a real run log: the valid inputs we mutate."""

    def __init__(self, root: Path) -> None:
        self.root = root
        folder = root / "releases" / "1.0"
        self.manifest = (folder / MANIFEST_NAME).read_bytes()
        self.bundle = (folder / BUNDLE_NAME).read_bytes()
        self.policy_path = root / "dev" / "sealbook.dev.toml"
        self.policy = self.policy_path.read_bytes()
        self.log = (root / "runs.jsonl").read_bytes()
        lines = self.log.splitlines(keepends=True)
        self.head = Head(len(lines), line_hash(lines[-1]))

    def __repr__(self) -> str:  # hypothesis prints the arguments of failing examples
        return f"Seeds({self.root})"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    root = tmp_path_factory.mktemp("fuzz")
    for rel, text in CATALOG.items():
        (root / "runbooks" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "runbooks" / rel).write_text(text)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    folder = make_release(load_catalog(root / "runbooks"), "1.0", root / "releases", target)
    manifest = (folder / MANIFEST_NAME).read_bytes()
    snippet = Manifest.from_bytes(manifest).runbook("ops/restart").snippet("restart")  # type: ignore[union-attr]
    assert snippet is not None
    run = {
        "slug": "ops/restart",
        "release": "1.0",
        "manifest_digest": digest(manifest),
        "snippet_id": "restart",
        "snippet_digest": snippet.digest,
        "params": {"APP": "web"},
        "host": "host-1",
        "user": "oncall",
    }
    log = RunLog(root / "runs.jsonl")
    for i in range(3):
        base = {**run, "time": f"2099-01-01T00:00:0{i}.000Z", "run_id": f"run-{i}"}
        log.append({**base, "type": "started"})
        log.append(
            {
                **base,
                "type": "finished",
                "exit_code": i,
                "duration_ms": 5,
                "stdout_digest": digest(b""),
                "stderr_digest": digest(b""),
            }
        )
    refused = {"type": "refused", "reason": "snippet-unknown", "detail": "no such snippet"}
    log.append({**run, **refused, "time": "2099-01-01T00:00:09.000Z", "run_id": "r"})
    return Seeds(root)


# --- mutation helpers ---------------------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few byte flips, insertions, deletions or splices of hostile chunks."""
    data = bytearray(seed)
    chunks = [b"\x00", b"\xff", b"\n", b"\r\n", b"[" * 3000, b'"\\ud800"', b"NaN", b"-1", b"{}"]
    chunks += [b"\xe2\x80\xae", b"null", b"1e999", b'"../../etc/passwd"', b"\\", b'"']
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            data += draw(st.sampled_from(chunks))
            continue
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.integers(0, 3))
        if action == 0:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif action == 1:
            data[at:at] = draw(st.sampled_from(chunks) | st.binary(max_size=8))
        elif action == 2:
            del data[at : at + draw(st.integers(1, 64))]
        else:
            data = data[:at]  # truncation: the torn-write shape
    return bytes(data)


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["../x", "sha256:" + "0" * 64, "sealbook.release/v1", "runbooks/a.md"])
)
JSON: st.SearchStrategy[object] = st.deferred(
    lambda: (
        JSON_LEAVES
        | st.lists(JSON, max_size=4)
        | st.dictionaries(st.text(max_size=8), JSON, max_size=4)
    )
)


@st.composite
def json_mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` parsed, one value somewhere replaced, deleted or added, serialised again."""
    doc = json.loads(seed)
    node = doc
    for _ in range(draw(st.integers(0, 5))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict | list) or not node[key]:
                break
            node = node[key]
        elif isinstance(node, list) and node:
            nxt = node[draw(st.integers(0, len(node) - 1))]
            if not isinstance(nxt, dict | list) or not nxt:
                break
            node = nxt
    action = draw(st.integers(0, 2))
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        if action == 0:
            del node[key]
        elif action == 1:
            node[key] = draw(JSON)
        else:
            node[draw(st.text(max_size=8))] = draw(JSON)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(JSON)
    return json.dumps(doc).encode()


# --- the runbook parser and digests -------------------------------------------------------------

MARKDOWN_LINES = [
    "---", "+++", "# Title", "Title", "===", "## Step", "text with é and ✔", "```bash {#a}",
    "```", "~~~", "````sql", "```console", "$ echo hi", "> more", "output", "cat <<EOF", "EOF",
    '```bash {"name":"x"}', "```bash { name=a/b }", "title: [", "a: &a [1]", "b: *a",
    "\t    ```", "\u202e", "\u200b", "\r", "",
]  # fmt: skip
MARKDOWN = st.lists(
    st.sampled_from(MARKDOWN_LINES) | st.text(max_size=30),
    max_size=40,
).map("\n".join)


@FAST
@given(source=MARKDOWN.map(lambda s: s.encode("utf-8", "surrogatepass")) | st.binary(max_size=400))
def test_parse_runbook_never_raises_and_keeps_its_promises(source: bytes) -> None:
    runbook, problems = parse_runbook("ops/x", source, "ops/x.md")
    lines = len(re.findall(rb"\r\n|\r|\n", source)) + 1  # the parser's line breaks
    for problem in problems:
        assert "\n" not in str(problem) and 1 <= problem.line <= lines + 1
    if runbook is None:
        assert any(p.severity == "error" for p in problems)
        return
    assert runbook.source == source
    for snippet in runbook.snippets:
        assert signed_text(snippet.text) == snippet.text
        assert 1 <= snippet.line <= lines


@FAST
@given(text=st.text(alphabet=st.sampled_from("ab \r\n\t\u2028é")))
def test_signed_text_is_idempotent_with_one_final_lf_and_no_cr(text: str) -> None:
    signed = signed_text(text)
    assert signed_text(signed) == signed
    assert (signed.endswith("\n") and not signed.endswith("\n\n")) or signed == "\n"
    assert "\r" not in signed
    assert signed.rstrip("\n") == text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    assert snippet_digest(text) == digest(signed.encode("utf-8"))


# --- manifest, policy, bundle ---------------------------------------------------------------


def test_valid_manifest_round_trips(seeds: Seeds) -> None:
    assert Manifest.from_bytes(seeds.manifest).to_bytes() == seeds.manifest
    # What a cached verdict skips the checks for: the same manifest, field for field.
    assert Manifest.from_checked_bytes(seeds.manifest) == Manifest.from_bytes(seeds.manifest)


@FAST
@given(data=st.data())
def test_manifest_parser_raises_only_input_error(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(
        mutated(seeds.manifest)
        | json_mutated(seeds.manifest)
        | JSON.map(lambda v: json.dumps(v).encode())
        | st.binary(max_size=200)
    )
    try:
        manifest = Manifest.from_bytes(raw, "m.json")
    except InputError as exc:
        assert exc.subject == "m.json" and "\n" not in exc.diagnostics()
        return
    # Whatever parses is a well-formed manifest: it serialises, and paths stay inside.
    manifest.to_bytes()
    for rb in manifest.runbooks:
        assert rb.path == f"runbooks/{rb.slug}.md" and ".." not in rb.path


@FAST
@given(data=st.data())
def test_policy_parser_raises_only_trust_error(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(
        mutated(seeds.policy) | st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
    )
    try:
        policy = TrustPolicy.from_toml(raw, seeds.policy_path)
    except TrustError as exc:
        assert "\n" not in exc.diagnostics()
        return
    assert policy.roots and policy.signers


@FAST
@given(data=st.data())
def test_bundle_parser_raises_only_input_error(seeds: Seeds, data: st.DataObject) -> None:
    raw = data.draw(mutated(seeds.bundle) | json_mutated(seeds.bundle) | st.binary(max_size=200))
    with contextlib.suppress(InputError):
        parse_bundle(raw, "b.json")


SITE_MANIFEST = json.dumps(
    {
        "schema": "sealbook.site/v1",
        "generator": {"sealbook": "0.1.0", "theme": ["mkdocs-material"]},
        "preview": False,
        "head": {"version": "1.0", "manifest_digest": "sha256:" + "0" * 64},
        "files": {"index.html": {"role": "page", "digest": "sha256:" + "1" * 64}},
    }
).encode()


@FAST
@given(raw=mutated(SITE_MANIFEST) | json_mutated(SITE_MANIFEST) | st.binary(max_size=200))
@example(raw=b"[" * 5000)
@example(raw=SITE_MANIFEST.replace(b'"role": "page"', b'"role": []'))
def test_site_manifest_parser_raises_only_input_error(raw: bytes) -> None:
    try:
        parsed = SiteManifest.from_bytes(raw, "site-manifest.json")
    except InputError:
        return
    assert all(".." not in path.split("/") and not path.startswith("/") for path in parsed.files)


# --- run logs -----------------------------------------------------------------------------------

SEED_NOW = datetime(2099, 1, 2, tzinfo=UTC)
"""The verification time for the seed log, dated 2099 (after any release signed today)."""


def test_seed_log_verifies(seeds: Seeds) -> None:
    policy = TrustPolicy.from_toml(seeds.policy, seeds.policy_path)
    index = ReleaseIndex(seeds.root / "releases", policy, SEED_NOW)
    results = verify_log(seeds.root / "runs.jsonl", index)
    assert len(results) == 7 and results.failed() == 0


@FAST
@given(data=st.data())
def test_log_record_parsing_never_raises(seeds: Seeds, data: st.DataObject) -> None:
    line = data.draw(
        st.sampled_from(seeds.log.splitlines()).flatmap(lambda s: mutated(s) | json_mutated(s))
        | st.binary(max_size=200)
    )
    record = decode(line)
    if record is not None:
        assert record_problem(record) is None or isinstance(record_problem(record), str)


@pytest.fixture(scope="module")
def index(seeds: Seeds) -> ReleaseIndex:
    return ReleaseIndex(
        seeds.root / "releases", TrustPolicy.from_toml(seeds.policy, seeds.policy_path), SEED_NOW
    )


@FAST
@given(data=st.data())
def test_log_verifier_gives_one_result_per_line_and_never_raises(
    seeds: Seeds, index: ReleaseIndex, data: st.DataObject, no_sockets: None
) -> None:
    raw = data.draw(mutated(seeds.log) | st.binary(max_size=300))
    *lines, tail = raw.split(b"\n")
    for expect in (None, seeds.head):
        verifier = LogVerifier("fuzz.jsonl", index, expect)
        for line in lines:
            verifier.line(line)
        if tail:
            verifier.line(tail, complete=False)
        results = verifier.close()
        # One result per line; an emptied log still gets its anchored-head finding.
        assert len(results) == max(len(lines) + (1 if tail else 0), expect is not None)
        for i in range(len(results)):
            assert "\n" not in results.result(i).detail
    # Anchored at the seed's head, any change to the log is seen.
    assert results.failed() or raw == seeds.log


@FEW
@given(data=st.data())
def test_log_file_fast_path_agrees_with_the_line_by_line_path(
    seeds: Seeds, index: ReleaseIndex, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    raw = data.draw(mutated(seeds.log) | st.just(seeds.log + b"[" * 5000 + b"\n" + seeds.log))
    path = tmp_path_factory.mktemp("fast") / "runs.jsonl"
    path.write_bytes(raw)
    fast = verify_log(path, index, seeds.head)
    slow = LogVerifier(str(path), index, seeds.head)
    *lines, tail = raw.split(b"\n")
    for line in lines:
        slow.line(line)
    if tail:
        slow.line(tail, complete=False)
    full = slow.close()
    assert [fast.result(i).reason for i in range(len(fast))] == [
        full.result(i).reason for i in range(len(full))
    ]


@FEW
@given(data=st.data())
def test_writer_tail_reader_raises_only_run_log_error(
    seeds: Seeds, data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    raw = data.draw(mutated(seeds.log) | st.binary(max_size=300))
    path = tmp_path_factory.mktemp("tail") / "runs.jsonl"
    path.write_bytes(raw)
    fd = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(RunLogError):
            tail = read_tail(fd, str(path))
            assert raw.endswith(tail.torn)
    finally:
        os.close(fd)


# --- the verifier's command line ----------------------------------------------------------------

AVAILABLE = [name for name, (module, _) in COMMANDS.items() if find_spec(module) is not None]


@pytest.fixture(scope="module")
def argv_tokens(seeds: Seeds, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    junk = tmp_path_factory.mktemp("junk")
    (junk / "garbage.json").write_bytes(b"\xff[[[{")
    (junk / "empty").write_bytes(b"")
    os.mkfifo(junk / "fifo")
    shutil.copytree(seeds.root / "releases", junk / "releases")
    return [
        *AVAILABLE, "--policy", "--format", "--bundle", "--cert-identity", "--cert-oidc-issuer",
        "--trusted-root", "--expect-latest", "--expect-head", "--releases", "--verbose", "--help",
        "text", "json", "junit", "xml", "-", "--", "", "\x00", "é\u202e", "1.0:sha256:" + "0" * 64,
        "3:sha256:" + "a" * 64, str(seeds.policy_path), str(seeds.root / "releases"),
        str(seeds.root / "releases" / "1.0"), str(seeds.root / "releases" / "1.0" / BUNDLE_NAME),
        str(seeds.root / "runs.jsonl"), str(seeds.root / "dev" / "trusted_root.json"),
        str(junk / "garbage.json"), str(junk / "empty"), str(junk / "releases"),
        str(junk / "nope"), "/", "/dev/null", "../../../../etc/passwd",
    ]  # fmt: skip


@FAST
@given(data=st.data())
def test_verifier_cli_only_returns_documented_exit_codes(
    argv_tokens: list[str], data: st.DataObject, no_sockets: None
) -> None:
    argv = data.draw(st.lists(st.sampled_from(argv_tokens) | st.text(max_size=12), max_size=8))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = verify_main(argv)
        except SystemExit as exc:  # argparse: usage errors and --help
            code = exc.code if isinstance(exc.code, int) else 2
    assert code in (0, 1, 2, 3, 4), (argv, code, err.getvalue())
    if "--verbose" in argv:
        return  # --verbose shows tracebacks on purpose
    assert "Traceback" not in err.getvalue()
    if code in (3, 4):
        assert len(err.getvalue().splitlines()) == 1, err.getvalue()


# --- inputs that crashed sealbook once (found by these properties and fuzz/run.py) -------------


def _log_line(seeds: Seeds, **changes: object) -> bytes:
    record = json.loads(seeds.log.splitlines()[-1])
    record.update(changes)
    return json.dumps(record).encode()


@pytest.mark.parametrize(
    "case",
    [
        "manifest-deep",
        "manifest-nan",
        "manifest-surrogate",
        "policy-deep",
        "log-deep",
        "log-type-list",
        "log-reason-list",
        "emptied-log-anchored",
        "cli-nul-byte",
        "front-matter-impossible-date",
        "policy-5000-digit-int",
    ],
)
def test_known_crashers_stay_fixed(seeds: Seeds, index: ReleaseIndex, case: str) -> None:
    if case == "manifest-deep":
        with pytest.raises(InputError, match="nested too deeply"):
            Manifest.from_bytes(b"[" * 5000)
    elif case == "manifest-nan":
        with pytest.raises(InputError, match="NaN"):
            Manifest.from_bytes(seeds.manifest.replace(b'"revision":1', b'"revision":NaN', 1))
    elif case == "manifest-surrogate":
        with pytest.raises(InputError, match="surrogates"):
            Manifest.from_bytes(seeds.manifest.replace(b'"title":"Restart"', b'"title":"\\udc80"'))
    elif case == "policy-deep":
        with pytest.raises(TrustError, match="nested too deeply"):
            TrustPolicy.from_toml(b"a = " + b"[" * 5000, seeds.policy_path)
    elif case == "log-deep":
        assert decode(b"[" * 5000) is None
    elif case in ("log-type-list", "log-reason-list"):
        field = "type" if case == "log-type-list" else "reason"
        line = _log_line(seeds, **{field: []})
        assert record_problem(json.loads(line)) is not None
        verifier = LogVerifier("x.jsonl", index, None)
        verifier.line(line)
        assert verifier.close().result(0).reason == "record-malformed"
    elif case == "front-matter-impossible-date":
        runbook, problems = parse_runbook("a", b"---\nreviewed: 2024-02-30\n---\n# T\n", "a.md")
        assert runbook is not None and runbook.broken is not None
        assert [p.code for p in problems] == ["front-matter-invalid"]
    elif case == "policy-5000-digit-int":
        with pytest.raises(TrustError, match="not valid TOML"):
            TrustPolicy.from_toml(b"n = 1" + b"0" * 5000, seeds.policy_path)
    elif case == "cli-nul-byte":
        with pytest.raises(SystemExit) as exc, contextlib.redirect_stderr(io.StringIO()):
            verify_main(["logs", "x", "--policy", "\0"])
        assert exc.value.code == 2
    else:
        results = LogVerifier("x.jsonl", index, seeds.head).close()
        assert [results.result(i).reason for i in range(len(results))] == ["log-head-mismatch"]


_SNIPPET_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=3),
    st.sampled_from(["a", "x..y", "SB_X", "bad-param", "", "\n", "a\n", "a\n\n", "a\r\n", "ok.id"]),
    st.sampled_from(["sha256:" + "a" * 64, "sha256:" + "A" * 64, "sha256:" + "a" * 63]),
    st.lists(st.sampled_from(["HOST", "lower", "", 1]), max_size=3),
    st.text(max_size=6),
)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["id", "language", "executable", "line", "params", "digest", "text", "x"]),
        _SNIPPET_VALUES,
    )
)
@example(
    {
        "id": "a",
        "language": "bash",
        "executable": True,
        "line": 3,
        "params": ["HOST"],
        "digest": "sha256:" + "a" * 64,
        "text": "echo\n",
    }
)
def test_snippet_fast_path_agrees_with_the_full_check(item: dict[str, object]) -> None:
    """The inline check of well-formed snippets accepts exactly what the full check accepts."""
    from verifier.manifest import _check_snippet, _parse_snippet, _Shape

    def outcome(parse: object) -> object:
        try:
            return parse(_Shape("m"), item, "s")  # type: ignore[operator]
        except InputError as exc:
            return str(exc)

    assert outcome(_parse_snippet) == outcome(_check_snippet)


@pytest.mark.parametrize(
    "brk", ["\r", "\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
)
def test_no_line_break_in_an_input_name_splits_a_diagnostic(brk: str) -> None:
    # Found by test_verifier_cli_only_returns_documented_exit_codes: `--policy '\x85'`.
    from verifier.errors import InputError

    line = InputError(f"a{brk}b", f"c{brk}d", f"e{brk}f").diagnostics()
    assert len(line.splitlines()) == 1
