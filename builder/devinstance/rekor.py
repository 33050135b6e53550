"""The dev Rekor: a persisted, append-only transparency log of hashedrekord 0.0.1 entries.

Each accepted entry comes back the way Rekor v1 returns it: log index,
integrated time, log id, canonicalized body, an RFC 6962 inclusion proof with a
signed checkpoint, and a signed entry timestamp (SET), the only source of
verified time in a bundle without a timestamp authority.

The log lives in one JSON Lines file; several processes may share it (each
append takes an exclusive file lock and first reads what others appended), so
indexes keep growing across restarts and concurrent instances.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from builder.devinstance import ct, merkle
from builder.devinstance.errors import RequestRejected
from verifier.errors import TrustError

LOG_FILE = "log.jsonl"
# The checkpoint signer's name; a note signature line is `— <name> <base64>`.
CHECKPOINT_NAME = "rekor.dev.sealbook.invalid"
# How far integrated times may run ahead of the clock (see next_integrated_time);
# well inside the leaf's ten minutes, minus its 30 s backdating.
MAX_LEAD_SECONDS = 60
_HASHES: dict[str, tuple[hashes.HashAlgorithm, int]] = {
    "sha256": (hashes.SHA256(), 32),
    "sha384": (hashes.SHA384(), 48),
    "sha512": (hashes.SHA512(), 64),
}


def _canonical(document: dict[str, Any]) -> bytes:
    return bytes(rfc8785.dumps(document))


def _field(document: object, *path: str) -> str:
    for name in path:
        if not isinstance(document, dict) or name not in document:
            raise RequestRejected(f"hashedrekord entry lacks {'.'.join(path)}")
        document = document[name]
    if not isinstance(document, str):
        raise RequestRejected(f"hashedrekord {'.'.join(path)} must be a string")
    return document


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise RequestRejected(f"hashedrekord {what} is not base64: {exc}") from exc


def canonical_hashedrekord(proposed: object) -> bytes:
    """Check a proposed hashedrekord 0.0.1 entry and return its canonical body.

    Like Rekor, it verifies the signature over the digest with the certificate's
    key, so the log never holds an entry whose signature does not check out.
    """
    if not isinstance(proposed, dict):
        raise RequestRejected("proposed entry must be a JSON object")
    if proposed.get("kind") != "hashedrekord" or proposed.get("apiVersion") != "0.0.1":
        raise RequestRejected("the dev Rekor accepts only hashedrekord 0.0.1 entries")
    signature_b64 = _field(proposed, "spec", "signature", "content")
    certificate_b64 = _field(proposed, "spec", "signature", "publicKey", "content")
    algorithm = _field(proposed, "spec", "data", "hash", "algorithm")
    digest_hex = _field(proposed, "spec", "data", "hash", "value")
    if algorithm not in _HASHES:
        raise RequestRejected(f"unsupported hash algorithm {algorithm!r}")
    hash_algorithm, digest_size = _HASHES[algorithm]
    try:
        digest = bytes.fromhex(digest_hex)
        certificate = x509.load_pem_x509_certificate(_b64decode(certificate_b64, "public key"))
    except ValueError as exc:
        raise RequestRejected(f"hashedrekord digest or certificate is malformed: {exc}") from exc
    if len(digest) != digest_size:
        raise RequestRejected(f"{algorithm} digest must be {digest_size} bytes")
    public_key = certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise RequestRejected("only EC signing certificates are accepted")
    try:
        public_key.verify(
            _b64decode(signature_b64, "signature"), digest, ec.ECDSA(Prehashed(hash_algorithm))
        )
    except InvalidSignature as exc:
        raise RequestRejected("signature does not verify with the certificate's key") from exc
    return _canonical(
        {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": algorithm, "value": digest_hex.lower()}},
                "signature": {"content": signature_b64, "publicKey": {"content": certificate_b64}},
            },
        }
    )


class TransparencyLog:
    """The dev Rekor log, persisted in ``path`` (one JSON line per entry)."""

    def __init__(self, path: Path, key: ec.EllipticCurvePrivateKey) -> None:
        self._path = path
        self._key = key
        self.log_id = ct.key_id(key.public_key())
        self.origin = f"{CHECKPOINT_NAME} - {int.from_bytes(self.log_id[:8], 'big')}"
        self._tree = merkle.MerkleTree()
        self._offset = 0  # bytes of the log file already in self._tree
        self._last_time = 0  # integrated time of the newest entry
        self._lock = threading.Lock()  # the file lock does not exclude our own threads
        with _locked(self._path) as log_file:
            self._catch_up(log_file)

    def __len__(self) -> int:
        return len(self._tree)

    def _catch_up(self, log_file: IO[bytes]) -> None:
        """Read entries other processes appended since we last looked."""
        log_file.seek(self._offset)
        data = log_file.read()
        end = data.rfind(b"\n") + 1
        if end < len(data):
            # A writer died mid-line (we hold the lock, so nobody is writing now):
            # that entry was never acknowledged, so dropping it loses nothing.
            log_file.truncate(self._offset + end)
        for line in data[:end].splitlines():
            try:
                body, self._last_time = _stored_body(line, len(self._tree))
            except (ValueError, KeyError, TypeError) as exc:
                raise TrustError(
                    str(self._path),
                    f"dev transparency log is corrupt at entry {len(self._tree)} ({exc})",
                    "delete the dev instance state folder",
                ) from exc
            self._tree.append(merkle.leaf_hash(body))
        self._offset += end

    def _sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _checkpoint(self, size: int, root: bytes) -> str:
        """A signed note over the tree head (the transparency-dev checkpoint format)."""
        note = f"{self.origin}\n{size}\n{base64.b64encode(root).decode()}\n"
        # Key hint: the first 4 bytes of the log id, as sigstore matches signatures.
        signature = base64.b64encode(self.log_id[:4] + self._sign(note.encode())).decode()
        return f"{note}\n\u2014 {CHECKPOINT_NAME} {signature}\n"

    def add(self, proposed: object) -> dict[str, Any]:
        """Integrate a proposed hashedrekord entry; return Rekor v1's response body."""
        body = canonical_hashedrekord(proposed)
        body_b64 = base64.b64encode(body).decode()
        with self._lock, _locked(self._path) as log_file:
            self._catch_up(log_file)
            index = len(self._tree)
            integrated_time, wait = next_integrated_time(time.time(), self._last_time)
            if wait:
                time.sleep(wait)  # under the locks: a burst is throttled, not reordered
            self._last_time = integrated_time
            record = {"body": body_b64, "integratedTime": integrated_time, "logIndex": index}
            line = _canonical(record) + b"\n"
            log_file.seek(0, 2)
            log_file.write(line)
            log_file.flush()
            os.fsync(log_file.fileno())
            self._offset += len(line)
            leaf = merkle.leaf_hash(body)
            self._tree.append(leaf)
            size = index + 1
            root = self._tree.root(size)
            proof = self._tree.inclusion_proof(index, size)
        checkpoint = self._checkpoint(size, root)
        signed_entry_timestamp = self._sign(
            _canonical(
                {
                    "body": body_b64,
                    "integratedTime": integrated_time,
                    "logID": self.log_id.hex(),
                    "logIndex": index,
                }
            )
        )
        return {
            leaf.hex(): {
                "body": body_b64,
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": index,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": checkpoint,
                        "hashes": [h.hex() for h in proof],
                        "logIndex": index,
                        "rootHash": root.hex(),
                        "treeSize": size,
                    },
                    "signedEntryTimestamp": base64.b64encode(signed_entry_timestamp).decode(),
                },
            }
        }


def next_integrated_time(now: float, last: int) -> tuple[int, float]:
    """The next entry's integrated time, and how long to wait before using it.

    Times strictly increase, which a real log does not promise but a release
    chain needs: two releases signed within one second must stay ordered. In a
    burst that makes the log run ahead of the clock; the lead is capped at
    :data:`MAX_LEAD_SECONDS` (by waiting), so an integrated time always falls
    inside the ten-minute leaf certificate it is checked against.
    """
    integrated_time = max(int(now), last + 1)
    return integrated_time, max(0.0, integrated_time - MAX_LEAD_SECONDS - now)


def _stored_body(line: bytes, expected_index: int) -> tuple[bytes, int]:
    """The canonical body and integrated time of stored entry ``expected_index``."""
    record = json.loads(line)
    if record["logIndex"] != expected_index:
        raise ValueError(f"logIndex {record['logIndex']} out of sequence")
    return base64.b64decode(record["body"], validate=True), int(record["integratedTime"])


@contextmanager
def _locked(path: Path) -> Iterator[IO[bytes]]:
    """The log file, opened for reading and appending, under an exclusive flock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+b") as log_file:
        # Released when the file closes.
        fcntl.flock(log_file.fileno(), fcntl.LOCK_EX)
        yield log_file
