"""Hostile inputs through the real CLIs: one clear line, the right exit code, no traceback.

Every case here is a row of docs/hostile-input.md. The CLIs run as subprocesses
(``run_cli``), exactly as a user or CI would run them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget, signer_for
from tests.conftest import REPO, run_cli
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME

RUNBOOK = "# Restart the app\n\n```bash {#restart}\nsystemctl restart app\n```\n"
DEEP = 5000


def one_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Assert a clean one-line failure on stderr; return that line."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == code, (proc.returncode, proc.stderr, proc.stdout)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def problem_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """`sealbook check` output without its summary line."""
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return [line for line in proc.stdout.splitlines() if not line.startswith(("ok:", "FAILED:"))]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dev-signed release ``1.0`` of a one-runbook catalog, and the dev state that signed it."""
    root = tmp_path_factory.mktemp("hostile")
    (root / "runbooks" / "ops").mkdir(parents=True)
    (root / "runbooks" / "ops" / "restart.md").write_text(RUNBOOK)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    make_release(load_catalog(root / "runbooks"), "1.0", root / "releases", target)
    return root


@pytest.fixture
def work(signed: Path, tmp_path: Path) -> Path:
    shutil.copytree(signed, tmp_path / "w")
    return tmp_path / "w"


@pytest.fixture(scope="module")
def dev_signer(signed: Path) -> Iterator[object]:
    """A running dev signing session (signs any bytes: hostile manifests that *do* verify)."""
    with signer_for(SigningTarget(instance="dev", dev_state=signed / "dev")) as session:
        yield session


def policy(work: Path) -> str:
    return str(work / "dev" / "sealbook.dev.toml")


def plant_signed_manifest(work: Path, session: object, data: bytes, version: str = "1.0") -> Path:
    """Replace release ``version``'s manifest with ``data`` and a valid signature over it."""
    folder = work / "releases" / version
    bundle = session.sign(data)  # type: ignore[attr-defined]
    (folder / MANIFEST_NAME).write_bytes(data)
    (folder / BUNDLE_NAME).write_bytes(bundle)
    return folder


def good_manifest(work: Path) -> dict[str, object]:
    return json.loads((work / "releases" / "1.0" / MANIFEST_NAME).read_bytes())  # type: ignore[no-any-return]


def release(work: Path, version: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "sealbook",
        "release",
        version,
        "--runbooks",
        str(work / "runbooks"),
        "--releases",
        str(work / "releases"),
        "--instance",
        "dev",
        "--dev-state",
        str(work / "dev"),
        *extra,
        cwd=work,
    )


def verify(
    work: Path, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli("sealbook-verify", *argv, env={"SEALBOOK_POLICY": "", **(env or {})}, cwd=work)


# --- traversal: versions, slugs, ids, manifest paths -------------------------------------------


@pytest.mark.parametrize("version", ["../x", "..", "a/b", "ABS", ".hidden", "x" * 200, "1.0\nx"])
def test_release_version_cannot_escape_the_releases_folder(work: Path, version: str) -> None:
    version = version.replace("ABS", str(work.parent / "escaped"))
    before = sorted(p.name for p in work.parent.iterdir())
    proc = release(work, version)
    one_line(proc, 2, "invalid release version")
    assert sorted(p.name for p in work.parent.iterdir()) == before
    assert sorted(p.name for p in (work / "releases").iterdir()) == [".lock", "1.0"]


def test_existing_version_is_never_overwritten(work: Path) -> None:
    manifest = (work / "releases/1.0" / MANIFEST_NAME).read_bytes()
    one_line(release(work, "1.0"), 1, "already exists")
    assert (work / "releases/1.0" / MANIFEST_NAME).read_bytes() == manifest


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("path", "runbooks/../../etc/passwd.md", "expected runbooks/ops/restart.md"),
        ("slug", "../../etc/passwd", "invalid slug"),
        ("slug", "/etc/passwd", "invalid slug"),
        ("snippet-id", "../x", "invalid snippet id"),
        ("snippet-id", "a/b", "invalid snippet id"),
        ("previous", "../../x", "invalid version"),
        ("version", "../1.0", "invalid version"),
    ],
)
def test_signed_manifest_cannot_name_paths_outside_its_release(
    work: Path, dev_signer: object, field: str, value: str, needle: str
) -> None:
    # Even a manifest whose signature verifies (an insider, or a dev root) is refused as a
    # whole before any path from it is opened.
    data = good_manifest(work)
    rb = data["runbooks"][0]  # type: ignore[index]
    if field == "snippet-id":
        rb["snippets"][0]["id"] = value
    elif field == "previous":
        data["previous"] = {"version": value, "manifest_digest": "sha256:" + "0" * 64}
    elif field == "version":
        data["version"] = value
    else:
        rb[field] = value
    folder = plant_signed_manifest(work, dev_signer, json.dumps(data).encode())
    line = one_line(verify(work, "release", str(folder), "--policy", policy(work)), 3, needle)
    assert str(folder / MANIFEST_NAME) in line


def test_release_refuses_a_hostile_unsigned_manifest_in_the_history(work: Path) -> None:
    data = good_manifest(work)
    data["runbooks"][0]["path"] = "runbooks/../../../etc/passwd"  # type: ignore[index]
    (work / "releases/1.0" / MANIFEST_NAME).write_text(json.dumps(data))
    line = one_line(release(work, "2.0"), 3, "expected runbooks/ops/restart.md")
    assert str(work / "releases/1.0" / MANIFEST_NAME) in line
    assert not (work / "releases/2.0").exists()


@pytest.mark.parametrize(
    ("info", "needle"),
    [
        ("bash {#a/b}", "'a/b'"),
        ("bash {#../../etc}", "'../../etc'"),
        ("bash { name=x/y }", "'x/y'"),
    ],
)
def test_snippet_id_with_a_slash_is_refused(work: Path, info: str, needle: str) -> None:
    (work / "runbooks" / "ops" / "restart.md").write_text(f"# R\n\n```{info}\ntrue\n```\n")
    proc = run_cli("sealbook", "check", "--runbooks", str(work / "runbooks"))
    assert proc.returncode == 1
    [line] = problem_lines(proc)
    assert "restart.md:3: error:" in line and "[id-invalid]" in line and needle in line
    assert release(work, "2.0").returncode == 1
    assert not (work / "releases/2.0").exists()


@pytest.mark.parametrize("name", ["fail over.md", "a..b.md", "café.md", "-rf.md"])
def test_slug_outside_the_allowed_characters_is_refused(work: Path, name: str) -> None:
    (work / "runbooks" / name).write_text(RUNBOOK)
    proc = run_cli("sealbook", "check", "--runbooks", str(work / "runbooks"))
    assert proc.returncode == 1
    [line] = problem_lines(proc)
    assert name in line and "[slug-invalid]" in line


# --- symlinks and special files in the runbooks folder -----------------------------------------


def test_symlinks_out_of_the_runbooks_folder_are_refused(work: Path) -> None:
    secret = work / "secret"
    secret.mkdir()
    (secret / "key.md").write_text("# Secret\n\nTOP-SECRET-BYTES\n")
    (work / "runbooks" / "leak.md").symlink_to(secret / "key.md")
    (work / "runbooks" / "leakdir").symlink_to(secret)
    proc = run_cli("sealbook", "check", "--runbooks", str(work / "runbooks"))
    assert proc.returncode == 1
    lines = problem_lines(proc)
    assert len(lines) == 2 and all("[symlink-outside]" in line for line in lines)
    assert any("leak.md" in line for line in lines) and any("leakdir" in line for line in lines)
    proc = release(work, "2.0")
    assert proc.returncode == 1 and "release refused" in proc.stderr.splitlines()[-1]
    assert not (work / "releases/2.0").exists()
    leaked = [p for p in (work / "releases").rglob("*") if p.is_file()]
    assert not any(b"TOP-SECRET-BYTES" in p.read_bytes() for p in leaked)


def test_fifo_in_the_runbooks_folder_does_not_hang(work: Path) -> None:
    os.mkfifo(work / "runbooks" / "pipe.md")
    proc = run_cli("sealbook", "check", "--runbooks", str(work / "runbooks"), timeout=20)
    assert proc.returncode == 1
    [line] = problem_lines(proc)
    assert "pipe.md" in line and "[file-unreadable]" in line


# --- oversized, binary, not UTF-8, front-matter bombs -------------------------------------------

LAUGHS = (
    "---\n"
    + "".join(
        f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else '"lol"'] * 9) + "]\n"
        for i in range(10)
    )
    + "title: boom\n---\n# Boom\n\ntext\n"
)


@pytest.mark.parametrize(
    ("content", "code", "line_no"),
    [
        (b"# Big\n\n" + b"x" * (1024 * 1024), "file-too-large", 1),
        (b"# Bin\n\n\x00\x01\x02", "file-binary", 3),
        (b"# Latin-1\n\ncaf\xe9\n", "file-not-utf8", 3),
        (b"# Overlong\n\n\xc0\xaf\n", "file-not-utf8", 3),
        (LAUGHS.encode(), "front-matter-invalid", 1),
        (
            b"---\na: &a [1]\n" + b"".join(b"k%d: *a\n" % i for i in range(200)) + b"---\n# T\n",
            "front-matter-invalid",
            1,
        ),
        (b"+++\na = " + b"[" * DEEP + b"\n+++\n# T\n", "front-matter-invalid", 1),
        (b"---\na: " + b"[" * 900 + b"]" * 900 + b"\n---\n# T\n", "front-matter-invalid", 1),
        (
            b"---\n!!python/object/apply:os.system ['touch /tmp/pwned']\n---\n# T\n",
            "front-matter-invalid",
            2,
        ),
        (b"---\ntitle: [unclosed\n---\n# T\n", "front-matter-invalid", 3),
        (b"---\nreviewed: 2024-02-30\n---\n# T\n", "front-matter-invalid", 1),
        (b"+++\nn = 1" + b"0" * 5000 + b"\n+++\n# T\n", "front-matter-invalid", 1),
    ],
    ids=[
        "oversized",
        "binary",
        "latin1",
        "overlong-utf8",
        "billion-laughs",
        "alias-flood",
        "toml-deep",
        "yaml-deep",
        "yaml-python-tag",
        "yaml-broken",
        "yaml-impossible-date",
        "toml-5000-digit-int",
    ],
)
def test_bad_runbook_files_get_one_clear_problem(
    work: Path, content: bytes, code: str, line_no: int
) -> None:
    (work / "runbooks" / "bad.md").write_bytes(content)
    proc = run_cli("sealbook", "check", "--runbooks", str(work / "runbooks"), timeout=30)
    assert proc.returncode == 1
    [line] = problem_lines(proc)
    assert line.startswith(f"{work / 'runbooks' / 'bad.md'}:{line_no}: error: ")
    assert line.endswith(f"[{code}]")
    assert not Path("/tmp/pwned").exists()
    proc = release(work, "2.0")
    assert proc.returncode == 1 and not (work / "releases/2.0").exists()


# --- a manifest, bundle or folder that cannot be read or parsed as a whole: exit 3 -------------


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (b"[" * DEEP, "nested too deeply"),
        (b'{"schema": "sealbook.release/v9"}', "unknown schema"),
        (b'{"a": NaN}', "NaN"),
        (b"[]", "expected an object"),
    ],
    ids=["empty", "not-utf8", "deep", "unknown-schema", "nan", "not-object"],
)
def test_signed_but_unparseable_manifest_exits_3(
    work: Path, dev_signer: object, data: bytes, needle: str
) -> None:
    folder = plant_signed_manifest(work, dev_signer, data)
    line = one_line(verify(work, "release", str(folder), "--policy", policy(work)), 3, needle)
    assert str(folder / MANIFEST_NAME) in line


def test_signed_manifest_with_a_lone_surrogate_exits_3(work: Path, dev_signer: object) -> None:
    data = good_manifest(work)
    data["runbooks"][0]["snippets"][0]["text"] = "echo \udc80\n"  # type: ignore[index]
    folder = plant_signed_manifest(work, dev_signer, json.dumps(data).encode())
    one_line(verify(work, "release", str(folder), "--policy", policy(work)), 3, "surrogates")


def test_fifo_manifest_fails_the_release_without_hanging(work: Path) -> None:
    path = work / "releases/1.0" / MANIFEST_NAME
    path.unlink()
    os.mkfifo(path)
    proc = verify(work, "release", str(work / "releases/1.0"), "--policy", policy(work))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr + proc.stdout
    assert "release-file-not-regular - manifest.json is not a regular file" in proc.stdout


@pytest.mark.parametrize("what", ["missing", "oversized", "folder"])
def test_unreadable_manifest_exits_3(work: Path, what: str) -> None:
    path = work / "releases/1.0" / MANIFEST_NAME
    path.unlink()
    if what == "oversized":
        with path.open("wb") as fh:
            fh.truncate((64 << 20) + 1)  # sparse: cheap to make
    elif what == "folder":
        path.mkdir()
    proc = verify(work, "release", str(work / "releases/1.0"), "--policy", policy(work))
    one_line(proc, 3, str(path))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (None, "missing"),
        (b"", "malformed Sigstore bundle"),
        (b"not json", "malformed Sigstore bundle"),
        (b"[" * DEEP, "malformed Sigstore bundle"),
        (b'{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}', "malformed"),
        (b" " * ((1 << 20) + 1), "larger than 1 MiB"),
    ],
    ids=["missing", "empty", "not-json", "deep", "no-content", "oversized"],
)
def test_malformed_bundle_exits_3(work: Path, data: bytes | None, needle: str) -> None:
    path = work / "releases/1.0" / BUNDLE_NAME
    if data is None:
        path.unlink()
    else:
        path.write_bytes(data)
    proc = verify(work, "release", str(work / "releases/1.0"), "--policy", policy(work))
    one_line(proc, 3, str(path), needle)
    manifest = work / "releases/1.0" / MANIFEST_NAME
    proc = verify(
        work,
        "bundle",
        str(manifest),
        "--bundle",
        str(path),
        "--cert-identity",
        "dev@sealbook.invalid",
        "--cert-oidc-issuer",
        "https://dev.sealbook.invalid",
        "--trusted-root",
        str(work / "dev" / "trusted_root.json"),
    )
    one_line(proc, 3, str(path))


@pytest.mark.parametrize("what", ["missing", "a-file", "empty"])
def test_releases_folder_that_cannot_be_read_exits_3(work: Path, what: str) -> None:
    target = work / "nope"
    if what == "a-file":
        target.write_text("x")
    elif what == "empty":
        target.mkdir()
    one_line(verify(work, "releases", str(target), "--policy", policy(work)), 3, str(target))


def test_one_broken_release_among_good_ones_is_a_per_item_failure(work: Path) -> None:
    # The folder reads as a whole, so a release inside it that cannot be read is one failed
    # item (exit 1), not a failure of the whole run.
    (work / "releases" / "0.9").mkdir()
    proc = verify(
        work, "releases", str(work / "releases"), "--policy", policy(work), "--format", "json"
    )
    assert proc.returncode == 1 and proc.stderr == ""
    doc = json.loads(proc.stdout)
    assert {r["item"]: r["reason"] for r in doc["results"]} == {
        "0.9": "input-unreadable",
        "1.0": "verified",
    }


def test_hostile_folder_names_cannot_forge_report_lines_or_break_json(work: Path) -> None:
    os.mkdir(os.fsencode(work / "releases") + b"/\xff\xfe")
    shutil.copytree(work / "releases/1.0", work / "releases" / "1.1\nok   release FAKE: verified")
    proc = verify(work, "releases", str(work / "releases"), "--policy", policy(work))
    assert proc.returncode == 1
    assert not any(line.startswith("ok   release FAKE") for line in proc.stdout.splitlines())
    proc = verify(
        work, "releases", str(work / "releases"), "--policy", policy(work), "--format", "json"
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    doc = json.loads(proc.stdout)
    assert len(doc["results"]) == 3 and doc["summary"]["failed"] == 2


# --- policy: whatever is wrong with it is exit 4 ------------------------------------------------

ROOT_OK = '[trust.roots.dev]\ntrusted_root = "trusted_root.json"\ndev = true\n'
SIGNER = '[[trust.signers]]\nidentity = "dev@sealbook.invalid"\nissuer = "https://dev.sealbook.invalid"\nroot = "dev"\n'


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (None, "cannot read the policy"),
        (b"", "no [trust] table"),
        (b"[trust\n", "not valid TOML"),
        (b"\xff\xfe[trust]\n", "not valid TOML"),
        (b"a = " + b"[" * DEEP, "not valid TOML"),
        (b"# " + b"x" * (1 << 20) + b"\n", "larger than 1 MiB"),
        (b"[trust]\n", "no trusted roots"),
        (ROOT_OK.encode(), "no allowed signers"),
        (
            ROOT_OK.replace("trusted_root.json", "../../../../nope.json").encode()
            + SIGNER.encode(),
            "cannot be read",
        ),
        (
            ROOT_OK.replace("trusted_root.json", "sealbook.dev.toml").encode() + SIGNER.encode(),
            "not a usable Sigstore trusted root",
        ),
        ((ROOT_OK + SIGNER.replace('root = "dev"', 'root = "prod"')).encode(), "unknown root"),
        ((ROOT_OK + SIGNER + "[trust]\nclock_skew_seconds = -1\n").encode(), "clock_skew_seconds"),
        (
            (ROOT_OK + SIGNER).replace("dev = true", 'dev = "yes"').encode(),
            "dev must be true or false",
        ),
        ((ROOT_OK + SIGNER + '[site]\nurl = "javascript:alert(1)"\n').encode(), "site.url"),
        (b"n = 1" + b"0" * 5000 + b"\n", "not valid TOML"),
    ],
    ids=[
        "missing",
        "empty",
        "broken-toml",
        "not-utf8",
        "deep",
        "oversized",
        "no-roots",
        "no-signers",
        "root-missing",
        "root-garbage",
        "unknown-root",
        "skew-negative",
        "dev-not-bool",
        "site-url-js",
        "5000-digit-int",
    ],
)
def test_bad_policy_exits_4_naming_it(work: Path, data: bytes | None, needle: str) -> None:
    path = work / "dev" / "hostile.toml"
    if data is not None:
        path.write_bytes(data)
    proc = verify(work, "releases", str(work / "releases"), "--policy", str(path))
    line = one_line(proc, 4, needle)
    assert "hostile.toml" in line or "nope.json" in line or "sealbook.dev.toml" in line


def test_policy_from_the_environment_is_named_too(work: Path) -> None:
    path = work / "dev" / "env.toml"
    path.write_bytes(b"[trust\n")
    proc = verify(work, "releases", str(work / "releases"), env={"SEALBOOK_POLICY": str(path)})
    one_line(proc, 4, str(path), "not valid TOML")


def test_no_policy_at_all_exits_4(work: Path) -> None:
    one_line(verify(work, "releases", str(work / "releases")), 4, "trust policy", "none found")


def test_a_policy_inside_the_releases_folder_is_never_used(work: Path) -> None:
    shutil.copy(work / "dev" / "sealbook.dev.toml", work / "releases" / "sealbook.toml")
    shutil.copy(work / "dev" / "trusted_root.json", work / "releases" / "trusted_root.json")
    proc = run_cli(
        "sealbook-verify", "releases", str(work / "releases"), env={"SEALBOOK_POLICY": ""}, cwd=work
    )
    one_line(proc, 4, "none found")


# --- the table in docs/hostile-input.md -------------------------------------------------------


def test_every_row_of_the_hostile_input_table_names_a_real_test() -> None:
    doc = (REPO / "docs" / "hostile-input.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| ") and "---" not in line]
    rows = [r for r in rows if not r.startswith(("| case ", "| code "))]
    assert len(rows) >= 50
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert refs or "| same |" in row, f"row without a test: {row[:80]}"
        for path, name in refs:
            source = (REPO / path).read_text(encoding="utf-8")
            assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} does not exist"
