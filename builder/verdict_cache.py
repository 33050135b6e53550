"""A per-host cache of signature verdicts, so a warm `sealbook run` skips sigstore.

Verifying a bundle costs about half a second, almost all of it importing sigstore.
A positive verdict depends only on the manifest bytes, the bundle bytes, the policy
and the trusted roots it names, so it is cached under a key over all four digests and the
checking code that made it (`verdict_key`); any change to any of them is a miss. It
covers the signature and the manifest's own checks (it parsed, every snippet digest matched:
both a function of the bytes alone), so a hit skips sigstore and those checks; what the
signature proved (signer, log index, time) is kept in the entry.

The cache is a folder only the owner may write: created 0700, and trusted only if it
is a real folder (no symlink) owned by the effective user with no group or other
permissions; every entry must be a regular file of the same owner, mode 0600, naming
its own key. Anything else is ignored (with one warning) and the run verifies in full.

Location: ``$SEALBOOK_CACHE_DIR``, else ``$XDG_CACHE_HOME/sealbook/verdicts``, else
``~/.cache/sealbook/verdicts``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import stat
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

from verifier.digests import canonical_json, digest
from verifier.policy import TrustPolicy
from verifier.signature import SignatureFacts

CACHE_ENV = "SEALBOOK_CACHE_DIR"
FORMAT = "sealbook.verdict/v2"
MAX_ENTRY_BYTES = 64 << 10


def default_cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$SEALBOOK_CACHE_DIR``, else ``$XDG_CACHE_HOME/sealbook/verdicts``, else ``~/.cache/...``."""
    env = os.environ if env is None else env
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sealbook" / "verdicts"


@functools.cache
def _checker() -> str:
    """A digest of the code a verdict depends on (what it checked and how), read once.

    Cheaper than the package version at start-up, and stricter: a verdict made by other
    checking code (an upgrade, a local edit) is a miss.
    """
    import verifier

    base = Path(verifier.__file__).parent
    return digest(b"\0".join((base / name).read_bytes() for name in _CHECKING_CODE))


_CHECKING_CODE = ("manifest.py", "pinned.py", "signature.py", "policy.py", "digests.py")


def verdict_key(manifest_digest: str, bundle_digest: str, policy_fingerprint: str) -> str:
    """The cache key: hex sha256 over the format and every digest the verdict depends on.

    ``policy_fingerprint`` (`TrustPolicy.fingerprint`) covers the policy bytes and the
    bytes of every trusted root it names.
    """
    parts = [FORMAT, _checker(), manifest_digest, bundle_digest, policy_fingerprint]
    return digest("\n".join(parts).encode())[len("sha256:") :]


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.geteuid() and stat.S_IMODE(st.st_mode) & 0o077 == 0


class VerdictCache:
    """Signature verdicts by `verdict_key`, in a folder only the owner can write."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._warned = False

    def _open_dir(self, create: bool) -> int | None:
        """A descriptor of the cache folder if it is trustworthy, else None."""
        if create:
            try:
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            except OSError:
                return None
        try:
            fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        if not _private(os.fstat(fd)):
            os.close(fd)
            self._warn("is not a 0700 folder of this user; not trusting it")
            return None
        return fd

    def _warn(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            sys.stderr.write(f"sealbook: verdict cache {self.folder} {problem}\n")

    def get(self, key: str) -> SignatureFacts | None:
        """The cached facts for ``key``, or None (missing, or not trustworthy)."""
        fd = self._open_dir(create=False)
        if fd is None:
            return None
        try:
            entry = os.open(key, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except OSError:
            return None
        finally:
            os.close(fd)
        try:
            st = os.fstat(entry)
            if not (stat.S_ISREG(st.st_mode) and _private(st)):
                self._warn(f"entry {key} is not a private file of this user; ignoring it")
                return None
            raw = os.read(entry, MAX_ENTRY_BYTES)
        finally:
            os.close(entry)
        return _facts(raw, key)

    def put(self, key: str, facts: SignatureFacts) -> None:
        """Store ``facts`` for ``key`` atomically; failures only cost a future full verify."""
        fd = self._open_dir(create=True)
        if fd is None:
            return
        tmp = f".tmp-{key}-{os.getpid()}"
        data = canonical_json({"format": FORMAT, "key": key, "facts": facts.to_json()})
        try:
            entry = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=fd
            )
            try:
                os.write(entry, data)
                os.fsync(entry)
            finally:
                os.close(entry)
            os.replace(tmp, key, src_dir_fd=fd, dst_dir_fd=fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _facts(raw: bytes, key: str) -> SignatureFacts | None:
    try:
        doc = json.loads(raw)
        facts = doc["facts"]
        if doc["format"] != FORMAT or doc["key"] != key:
            return None
        return SignatureFacts(
            root=str(facts["root"]),
            dev=bool(facts["dev"]),
            identity=str(facts["identity"]),
            issuer=str(facts["issuer"]),
            log_index=int(facts["log_index"]),
            signed_at=datetime.fromisoformat(facts["signed_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


class PolicyVerdicts:
    """A `VerdictCache` seen as `verifier.release.SignatureVerdicts` for one policy.

    `prefetch` verifies, in a child process, the releases the cache has no verdict for,
    while this process goes through the others: importing sigstore and verifying a new
    release overlaps with checking the known ones. `get` waits for the child on a miss.
    """

    def __init__(self, cache: VerdictCache, policy: TrustPolicy) -> None:
        self.cache = cache
        self.policy = policy
        self._fingerprint = policy.fingerprint
        self._child: int | None = None

    def _key(self, manifest: bytes, bundle: bytes) -> str:
        return verdict_key(digest(manifest), digest(bundle), self._fingerprint)

    def get(self, manifest: bytes, bundle: bytes) -> SignatureFacts | None:
        key = self._key(manifest, bundle)
        facts = self.cache.get(key)
        if facts is None and self._child is not None:
            self.wait()
            facts = self.cache.get(key)
        return facts

    def put(self, manifest: bytes, bundle: bytes, facts: SignatureFacts) -> None:
        self.cache.put(self._key(manifest, bundle), facts)

    def prefetch(self, folders: list[Path]) -> None:
        """Verify the releases in ``folders`` the cache lacks, in a child process.

        The child only fills the cache (a failure leaves no verdict: this process then
        verifies that release itself and reports the failure).
        """
        from verifier.files import read_regular
        from verifier.manifest import BUNDLE_NAME, MANIFEST_NAME
        from verifier.pinned import verify_signed_manifest
        from verifier.release import MAX_MANIFEST_BYTES
        from verifier.signature import MAX_BUNDLE_BYTES

        missing = []
        for folder in folders:
            try:  # hostile input: a FIFO must not hang the build (its verification says why)
                manifest = read_regular(folder / MANIFEST_NAME, MAX_MANIFEST_BYTES)
                bundle = read_regular(folder / BUNDLE_NAME, MAX_BUNDLE_BYTES)
            except OSError:
                continue
            if self.cache.get(self._key(manifest, bundle)) is None:
                missing.append((folder, manifest, bundle))
        if not missing or not hasattr(os, "fork"):
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child (coverage cannot follow it)
            try:
                for folder, manifest, bundle in missing:
                    with contextlib.suppress(Exception):
                        signed = verify_signed_manifest(
                            manifest, bundle, self.policy, str(folder), folder.name
                        )
                        self.put(manifest, bundle, signed.signature)
            finally:
                os._exit(0)
        self._child = pid

    def wait(self) -> None:
        """Wait for the prefetching child, if any."""
        if self._child is not None:
            pid, self._child = self._child, None
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
