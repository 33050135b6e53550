"""Secret parameters (issue 16, deliver 5): declared in the fence, recorded as a digest, masked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builder.execute import Masker
from builder.lint import check_catalog
from builder.run import RunOptions, RunTarget, run_snippet
from builder.runbook import load_catalog
from verifier.digests import canonical_json, digest
from verifier.errors import InputError
from verifier.logs import verify_logs
from verifier.manifest import Manifest
from verifier.policy import TrustPolicy
from verifier.runlog import GENESIS, SCHEMA, line_hash, secret_digest

TOKEN = "tok-3141592653-secret"
RUNBOOK = """---
title: Secrets
---
# Secrets

## Call
```bash {#call params="TOKEN HOST" secret="TOKEN"}
echo "calling ${HOST:?} with ${TOKEN:?}"
echo "again: $TOKEN" >&2
```
"""


@pytest.fixture(scope="module")
def release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from builder.release import make_release
    from builder.sign import SigningTarget

    root = tmp_path_factory.mktemp("secrets")
    (root / "runbooks/ops").mkdir(parents=True)
    (root / "runbooks/ops/secret.md").write_text(RUNBOOK, encoding="utf-8")
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    make_release(load_catalog(root / "runbooks"), "1.0.0", root / "releases", target)
    return root


def _snippet_digest(root: Path) -> str:
    raw = (root / "releases/1.0.0/manifest.json").read_bytes()
    snippet = Manifest.from_bytes(raw).runbook("ops/secret").snippet("call")  # type: ignore[union-attr]
    assert snippet is not None and snippet.secrets == ("TOKEN",)
    return snippet.digest


def test_secret_is_recorded_as_a_digest_and_masked_in_captures(
    release: Path, tmp_path: Path
) -> None:
    log, capture = tmp_path / "runs.jsonl", tmp_path / "capture"
    out = (tmp_path / "out").open("wb")
    options = RunOptions(
        releases=release / "releases",
        log=log,
        capture=capture,
        cache=None,
        out_fd=out.fileno(),
        err_fd=out.fileno(),
        say=lambda _line: None,
        env={"TOKEN": TOKEN, "HOST": "db-1", "PATH": "/usr/bin:/bin"},
    )
    policy = TrustPolicy.load(release / "dev/sealbook.dev.toml")
    target = RunTarget.parse("ops/secret@1.0.0", "call", _snippet_digest(release))
    outcome = run_snippet(target, policy, options)
    out.close()
    assert outcome.exit_code == 0
    assert TOKEN in (tmp_path / "out").read_text()  # the operator's terminal sees the output
    raw = log.read_bytes()
    assert TOKEN.encode() not in raw
    records = [json.loads(line) for line in raw.splitlines()]
    assert records[0]["params"] == {"HOST": "db-1", "TOKEN": secret_digest(outcome.run_id, TOKEN)}
    kept = {p.read_bytes() for p in capture.iterdir()}
    assert kept == {b"calling db-1 with [secret TOKEN]\n", b"again: [secret TOKEN]\n"}
    assert outcome.stdout_digest == digest(b"calling db-1 with [secret TOKEN]\n")
    for path in capture.iterdir():  # still content-addressed
        assert path.name == digest(path.read_bytes()).removeprefix("sha256:")
    report = verify_logs([log], release / "releases", policy)
    assert report.exit_code == 0, report.render("text")


def test_a_secret_recorded_in_clear_fails(release: Path, tmp_path: Path) -> None:
    raw = (release / "releases/1.0.0/manifest.json").read_bytes()
    record = {
        "type": "started",
        "time": "2099-01-01T00:00:00.000Z",
        "run_id": "r1",
        "host": "h",
        "user": "u",
        "slug": "ops/secret",
        "release": "1.0.0",
        "manifest_digest": digest(raw),
        "snippet_id": "call",
        "snippet_digest": _snippet_digest(release),
        "params": {"HOST": "db-1", "TOKEN": TOKEN},
        "schema": SCHEMA,
        "seq": 1,
        "prev": GENESIS,
    }
    line = canonical_json(record) + b"\n"
    hidden = record | {"seq": 2, "prev": line_hash(line), "run_id": "r2"}
    hidden["params"] = {"HOST": "db-1", "TOKEN": secret_digest("r2", TOKEN)}
    log = tmp_path / "runs.jsonl"
    log.write_bytes(line + canonical_json(hidden) + b"\n")
    policy = TrustPolicy.load(release / "dev/sealbook.dev.toml")
    from datetime import UTC, datetime

    report = verify_logs([log], release / "releases", policy, now=datetime(2099, 1, 2, tzinfo=UTC))
    results = report.results
    assert results[0].reason == "record-malformed" and "in clear" in results[0].detail
    assert results[1].reason == "run-unfinished"  # its own checks pass: only unfinished


def test_secret_must_be_a_declared_parameter(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops/x.md").write_text(
        RUNBOOK.replace('secret="TOKEN"', 'secret="PASSWORD"'), encoding="utf-8"
    )
    problems = check_catalog(load_catalog(tmp_path))
    assert [p.code for p in problems if p.severity == "error"] == ["secret-undeclared"]


def test_manifest_secrets_are_optional_sorted_and_declared(release: Path) -> None:
    raw = (release / "releases/1.0.0/manifest.json").read_bytes()
    manifest = Manifest.from_bytes(raw)
    assert manifest.to_bytes() == raw
    doc = json.loads(raw)
    snippet = doc["runbooks"][0]["snippets"][0]
    for bad in ([], ["HOST", "TOKEN", "TOKEN"], ["OTHER"], ["TOKEN", "HOST"], "TOKEN"):
        snippet["secrets"] = bad
        with pytest.raises(InputError):
            Manifest.from_bytes(canonical_json(doc))
    del snippet["secrets"]
    assert Manifest.from_bytes(canonical_json(doc)).runbooks[0].snippets[0].secrets == ()


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64])
def test_masker_finds_values_split_across_chunks(size: int) -> None:
    stream = b"a TOKENVALUE b TOKENVALUETOKENVALUE c TOK d PASS e" * 3
    masker = Masker({"T": "TOKENVALUE", "P": "PASS"})
    out = b"".join(masker.feed(stream[i : i + size]) for i in range(0, len(stream), size))
    out += masker.flush()
    expected = stream.replace(b"TOKENVALUE", b"[secret T]").replace(b"PASS", b"[secret P]")
    assert out == expected
