"""The dev instance: signing through sigstore's real path, verified by sigstore's real verifier.

Nothing here mocks sigstore. Every in-process test runs under a guard that fails any
socket connect to a non-loopback address; subprocesses get a dead proxy instead.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier
from sigstore._internal import merkle as sigstore_merkle
from sigstore._internal.fulcio.client import FulcioClientError
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier, policy

from builder.devinstance import DEV_IDENTITY, DEV_ISSUER, DevInstance
from builder.devinstance import merkle as dev_merkle
from builder.devinstance.oidc import identity_token
from builder.devinstance.rekor import MAX_LEAD_SECONDS, next_integrated_time
from verifier.errors import TrustError

REPO = Path(__file__).resolve().parent.parent
PRODUCTION_ROOT = REPO / "verifier" / "trust" / "production-trusted-root.json"
VENV_BIN = Path(sys.executable).parent
# A proxy nobody listens on: any non-loopback HTTP(S) request from a subprocess fails.
OFFLINE_ENV = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1",
}
DEV_POLICY = policy.Identity(identity=DEV_IDENTITY, issuer=DEV_ISSUER)


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except ValueError:
        return False  # a host name: resolving it would already be network


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any socket connect to a non-loopback address."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> None:
        if not _is_loopback(address):
            raise AssertionError(f"network connection attempted to {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    def connect_ex(self: socket.socket, address: object) -> int:
        if not _is_loopback(address):
            raise AssertionError(f"network connection attempted to {address!r}")
        return real_connect_ex(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(scope="module")
def instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevInstance]:
    """One running dev instance shared by the read-only tests of this module."""
    with DevInstance(tmp_path_factory.mktemp("shared") / "dev") as inst:
        yield inst


def sign(inst: DevInstance, data: bytes, token: str | None = None) -> Bundle:
    """Sign ``data`` exactly as the product does: trust config -> SigningContext -> signer."""
    config = ClientTrustConfig.from_json(inst.trust_config_path.read_text())
    context = SigningContext.from_trust_config(config)
    with context.signer(IdentityToken(token or inst.identity_token())) as signer:
        return signer.sign_artifact(data)


def verifier_for(root: Path) -> Verifier:
    """sigstore's verifier, pinned to ``root``."""
    return Verifier(trusted_root=TrustedRoot.from_file(str(root)))


def log_index(bundle: Bundle) -> int:
    """The bundle's transparency log index."""
    return int(bundle.log_entry._inner.log_index)


def test_guard_blocks_remote_connections() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        pytest.raises(AssertionError, match="network connection attempted"),
    ):
        sock.connect(("192.0.2.1", 443))


def test_signed_bundle_verifies_with_the_dev_root(instance: DevInstance) -> None:
    data = b"runbook manifest bytes\n"
    bundle = sign(instance, data)
    verifier_for(instance.trusted_root_path).verify_artifact(data, bundle, DEV_POLICY)
    # Round-trips through JSON as a release stores it.
    again = Bundle.from_json(bundle.to_json())
    verifier_for(instance.trusted_root_path).verify_artifact(data, again, DEV_POLICY)


@pytest.mark.parametrize(
    ("identity", "issuer"),
    [
        ("someone-else@sealbook.invalid", DEV_ISSUER),
        (DEV_IDENTITY, "https://token.actions.githubusercontent.com"),
    ],
)
def test_wrong_identity_or_issuer_fails(instance: DevInstance, identity: str, issuer: str) -> None:
    data = b"data"
    bundle = sign(instance, data)
    with pytest.raises(VerificationError):
        verifier_for(instance.trusted_root_path).verify_artifact(
            data, bundle, policy.Identity(identity=identity, issuer=issuer)
        )


def test_flipped_byte_fails(instance: DevInstance) -> None:
    data = b"echo restart primary\n"
    bundle = sign(instance, data)
    tampered = bytes([data[0] ^ 1]) + data[1:]
    with pytest.raises(VerificationError, match="digest mismatch"):
        verifier_for(instance.trusted_root_path).verify_artifact(tampered, bundle, DEV_POLICY)


def test_dev_bundle_fails_against_the_production_root(instance: DevInstance) -> None:
    data = b"data"
    bundle = sign(instance, data)
    with pytest.raises(VerificationError):
        verifier_for(PRODUCTION_ROOT).verify_artifact(data, bundle, DEV_POLICY)


def test_bundle_from_another_dev_instance_fails(instance: DevInstance, tmp_path: Path) -> None:
    # Each state folder has its own keys: one dev root does not vouch for another's bundles.
    data = b"data"
    with DevInstance(tmp_path / "other") as other:
        bundle = sign(other, data)
    with pytest.raises(VerificationError):
        verifier_for(instance.trusted_root_path).verify_artifact(data, bundle, DEV_POLICY)


def test_leaf_certificate_matches_the_fulcio_profile(instance: DevInstance) -> None:
    bundle = sign(instance, b"data")
    cert = bundle.signing_certificate
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(minutes=10)
    assert cert.not_valid_before_utc < dt.datetime.now(dt.UTC)
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CODE_SIGNING]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == [DEV_IDENTITY]
    issuer_v1 = cert.extensions.get_extension_for_oid(ObjectIdentifier("1.3.6.1.4.1.57264.1.1"))
    issuer_v2 = cert.extensions.get_extension_for_oid(ObjectIdentifier("1.3.6.1.4.1.57264.1.8"))
    assert issuer_v1.value.value == DEV_ISSUER.encode()  # type: ignore[attr-defined]
    assert issuer_v2.value.value == b"\x0c" + bytes([len(DEV_ISSUER)]) + DEV_ISSUER.encode()  # type: ignore[attr-defined]
    scts = cert.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
    assert len(scts.value) == 1
    raw = json.loads(bundle.to_json())
    assert raw["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    (entry,) = raw["verificationMaterial"]["tlogEntries"]
    assert entry["kindVersion"] == {"kind": "hashedrekord", "version": "0.0.1"}
    assert entry["inclusionPromise"]["signedEntryTimestamp"]
    assert "\u2014 " in entry["inclusionProof"]["checkpoint"]["envelope"]


def test_uri_identity_and_custom_issuer_are_certified(instance: DevInstance) -> None:
    workflow = "https://ci.example.com/acme/runbooks/pipelines/release@refs/heads/main"
    issuer = "https://ci.example.com"
    data = b"data"
    bundle = sign(instance, data, identity_token(workflow, issuer))
    verifier_for(instance.trusted_root_path).verify_artifact(
        data, bundle, policy.Identity(identity=workflow, issuer=issuer)
    )
    with pytest.raises(VerificationError):
        verifier_for(instance.trusted_root_path).verify_artifact(data, bundle, DEV_POLICY)


def test_a_ci_issuers_token_without_its_claims_is_refused_like_fulcio(
    instance: DevInstance,
) -> None:
    # Fulcio derives a GitHub certificate from job_workflow_ref & co; without them it refuses.
    token = identity_token(
        "https://github.com/acme/runbooks/.github/workflows/release.yml@refs/heads/main",
        "https://token.actions.githubusercontent.com",
    )
    # (sigstore drops the refusal's message for a 4xx response; the dev log has it.)
    with pytest.raises(FulcioClientError):
        sign(instance, b"data", token)


def test_signing_takes_well_under_half_a_second(instance: DevInstance) -> None:
    sign(instance, b"warm-up")
    started = time.perf_counter()
    for n in range(5):
        sign(instance, b"data %d" % n)
    assert (time.perf_counter() - started) / 5 < 0.5


def test_concurrent_signers_get_distinct_indexes(instance: DevInstance) -> None:
    bundles: list[Bundle] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        bundle = sign(instance, b"parallel %d" % n)
        with lock:
            bundles.append(bundle)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({log_index(b) for b in bundles}) == 6
    verifier = verifier_for(instance.trusted_root_path)
    for bundle in bundles:
        data = next(b"parallel %d" % n for n in range(6) if _digest_matches(bundle, n))
        verifier.verify_artifact(data, bundle, DEV_POLICY)


def _digest_matches(bundle: Bundle, n: int) -> bool:
    signature = bundle._inner.message_signature
    assert signature is not None and signature.message_digest is not None
    return signature.message_digest.digest == hashlib.sha256(b"parallel %d" % n).digest()


def test_restart_keeps_the_root_and_the_log(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    with DevInstance(state) as first:
        root_before = first.trusted_root_path.read_bytes()
        old = sign(first, b"before restart")
    with DevInstance(state) as second:
        assert second.trusted_root_path.read_bytes() == root_before
        new = sign(second, b"after restart")
    assert log_index(new) > log_index(old)
    verifier = verifier_for(state / "trusted_root.json")
    verifier.verify_artifact(b"before restart", old, DEV_POLICY)
    verifier.verify_artifact(b"after restart", new, DEV_POLICY)


def test_two_instances_share_one_state_folder(tmp_path: Path) -> None:
    # `sealbook release --instance dev` may start one while `sealbook dev-instance` serves.
    state = tmp_path / "dev"
    with DevInstance(state) as a, DevInstance(state) as b:
        indexes = [log_index(sign(inst, b"x")) for inst in (a, b, a, b)]
    assert indexes == sorted(indexes) and len(set(indexes)) == 4


def test_torn_log_line_is_dropped_and_the_log_continues(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    with DevInstance(state) as inst:
        first = sign(inst, b"one")
    with (state / "log.jsonl").open("ab") as log:
        log.write(b'{"body":"trunc')  # a writer killed mid-line
    with DevInstance(state) as inst:
        second = sign(inst, b"two")
        assert log_index(second) == log_index(first) + 1
        verifier_for(inst.trusted_root_path).verify_artifact(b"two", second, DEV_POLICY)


def test_integrated_times_strictly_increase(instance: DevInstance) -> None:
    # A release chain orders releases by verified signing time, even within one second.
    times = [
        int(sign(instance, b"tick %d" % n).log_entry._inner.integrated_time or 0) for n in range(4)
    ]
    assert times == sorted(set(times)) and times[0] > 0


def test_integrated_time_lead_over_the_clock_is_capped() -> None:
    now = 1_800_000_000.25
    assert next_integrated_time(now, 0) == (1_800_000_000, 0.0)
    assert next_integrated_time(now, 1_800_000_000) == (1_800_000_001, 0.0)
    lead = int(now) + MAX_LEAD_SECONDS
    time_, wait = next_integrated_time(now, lead)
    assert time_ == lead + 1 and wait == pytest.approx(time_ - MAX_LEAD_SECONDS - now)


def test_state_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    with DevInstance(state):
        pass
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    for key in ("ca_key.pem", "ct_key.pem", "rekor_key.pem"):
        assert stat.S_IMODE((state / key).stat().st_mode) == 0o600


def test_group_writable_state_folder_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    state.mkdir()
    state.chmod(0o770)
    with pytest.raises(TrustError, match="writable by group or others"):
        DevInstance(state).start()


def test_trusted_root_validity_has_started(instance: DevInstance) -> None:
    root = json.loads(instance.trusted_root_path.read_text())
    config = json.loads(instance.trust_config_path.read_text())
    assert config["trustedRoot"] == root
    now = dt.datetime.now(dt.UTC)
    starts = [log["publicKey"]["validFor"]["start"] for log in root["tlogs"] + root["ctlogs"]]
    starts += [ca["validFor"]["start"] for ca in root["certificateAuthorities"]]
    for start in starts:
        assert dt.datetime.fromisoformat(start) < now
    assert config["signingConfig"]["caUrls"][0]["url"] == instance.url
    assert instance.url.startswith("http://127.0.0.1:")


def test_policy_file_names_the_dev_root_and_signer(instance: DevInstance) -> None:
    text = instance.policy_path.read_text()
    assert text.startswith("# Dev policy written by `sealbook dev-instance`.")
    policy_doc = tomllib.loads(text)
    assert policy_doc == {
        "trust": {
            "roots": {"dev": {"trusted_root": "trusted_root.json", "dev": True}},
            "signers": [{"identity": DEV_IDENTITY, "issuer": DEV_ISSUER, "root": "dev"}],
        }
    }
    assert (instance.policy_path.parent / "trusted_root.json").is_file()


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_fulcio_refuses_a_request_without_a_usable_token(instance: DevInstance) -> None:
    url = instance.url + "/api/v2/signingCert"
    body = json.dumps({"certificateSigningRequest": "AAAA"}).encode()
    status, answer = _post(url, body, {"Content-Type": "application/json"})
    assert status == 401 and "Bearer" in str(answer["message"])
    header, payload, _ = instance.identity_token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] = int(time.time()) - 60
    expired = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    status, answer = _post(url, body, {"Authorization": f"Bearer {header}.{expired}."})
    assert status == 401 and "expired" in str(answer["message"])


def test_rekor_refuses_an_entry_whose_signature_does_not_verify(instance: DevInstance) -> None:
    bundle = sign(instance, b"data")
    body = json.loads(
        base64.b64decode(
            json.loads(bundle.to_json())["verificationMaterial"]["tlogEntries"][0][
                "canonicalizedBody"
            ]
        )
    )
    body["spec"]["data"]["hash"]["value"] = "00" * 32
    status, answer = _post(
        instance.url + "/api/v1/log/entries",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400 and "signature does not verify" in str(answer["message"])


@pytest.mark.parametrize("size", range(1, 18))
def test_inclusion_proofs_check_out_with_sigstores_merkle_code(size: int) -> None:
    tree = dev_merkle.MerkleTree()
    for n in range(size):
        tree.append(dev_merkle.leaf_hash(b"entry %d" % n))
    for index in range(size):
        proof = tree.inclusion_proof(index)
        inner, border = sigstore_merkle._decomp_inclusion_proof(index, size)
        assert len(proof) == inner + border
        leaf = dev_merkle.leaf_hash(b"entry %d" % index)
        chained = sigstore_merkle._chain_inner(leaf, proof[:inner], index)
        assert sigstore_merkle._chain_border_right(chained, proof[inner:]) == tree.root()


def test_stock_sigstore_cli_verifies_a_dev_bundle_offline(
    instance: DevInstance, tmp_path: Path
) -> None:
    artifact = tmp_path / "manifest.json"
    artifact.write_bytes(b'{"schema":"sealbook.release/v1"}')
    bundle_path = tmp_path / "manifest.json.sigstore.json"
    bundle_path.write_text(sign(instance, artifact.read_bytes()).to_json())
    instance.stop()  # nothing to talk to: verification must not need the instance
    try:
        result = subprocess.run(
            [
                str(VENV_BIN / "sigstore"),
                "--trust-config",
                str(instance.trust_config_path),
                "verify",
                "identity",
                "--bundle",
                str(bundle_path),
                "--cert-identity",
                DEV_IDENTITY,
                "--cert-oidc-issuer",
                DEV_ISSUER,
                str(artifact),
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **OFFLINE_ENV, "HOME": str(tmp_path)},
            timeout=120,
            check=False,
        )
    finally:
        instance.start()
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stderr + result.stdout


def _sealbook(*argv: str) -> list[str]:
    return [sys.executable, "-m", "builder._cli", "dev-instance", *argv]


def test_cli_print_token_prints_a_usable_dev_token(tmp_path: Path) -> None:
    result = subprocess.run(
        _sealbook("--state", str(tmp_path / "dev"), "--print-token"),
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    token = IdentityToken(result.stdout.strip())
    assert (token.identity, token.issuer) == (DEV_IDENTITY, DEV_ISSUER)
    assert not (tmp_path / "dev").exists()  # printing a token touches no state


def test_cli_serves_until_sigterm_and_exits_zero(tmp_path: Path) -> None:
    state = tmp_path / "dev"
    process = subprocess.Popen(
        _sealbook("--state", str(state)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **OFFLINE_ENV},
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert first_line.startswith("sealbook dev instance serving at http://127.0.0.1:")
        served = DevInstance(state)  # a handle on the same files; not started here
        data = b"signed against another process"
        bundle = sign(served, data)
        verifier_for(served.trusted_root_path).verify_artifact(data, bundle, DEV_POLICY)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "dev instance stopped" in stderr
    assert "Traceback" not in stderr
