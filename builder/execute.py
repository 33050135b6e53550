"""Execute a verified snippet's exact bytes with a clean bash, streaming and hashing its output.

The invocation (documented in docs/run-log.md)::

    /bin/bash --noprofile --norc -c "$SIGNED_TEXT" sealbook-run

- the text is one execve argument: the kernel copies the verified bytes, nothing is
  re-read and nothing goes through stdin, which the snippet inherits and may read;
- ``--noprofile --norc``: no startup files; ``BASH_ENV``/``ENV`` (read by non-interactive
  shells), ``SHELLOPTS``/``BASHOPTS`` (options imported at startup), ``CDPATH``,
  ``GLOBIGNORE`` and exported functions (``BASH_FUNC_*``) are removed from the environment;
- bash defaults otherwise (no ``errexit``/``pipefail``): the snippet behaves as when its
  author pasted it into a shell;
- stdout and stderr go through pipes, copied live to ours, hashed, and with a capture
  folder also stored there by digest (``<capture>/<hex>``, 0600).

While the snippet runs, SIGINT is left to it (the terminal sends it to both; we keep
running to record the outcome) and SIGTERM/SIGHUP are forwarded to it. A snippet killed
by signal N exits 128+N, as in a shell.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

BASH = "/bin/bash"
ARGV0 = "sealbook-run"
UNSAFE_ENV = frozenset({"BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "CDPATH", "GLOBIGNORE"})
CHUNK = 64 << 10


@dataclass(frozen=True)
class Execution:
    """The outcome of one execution."""

    exit_code: int
    duration_ms: int
    stdout_digest: str
    stderr_digest: str

    def fields(self) -> dict[str, Any]:
        """The ``finished`` record's fields."""
        return {
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "stdout_digest": self.stdout_digest,
            "stderr_digest": self.stderr_digest,
        }


def bash_path() -> str:
    """``/bin/bash``, or the first bash on PATH where there is none."""
    return BASH if os.path.exists(BASH) else (shutil.which("bash") or BASH)  # noqa: PTH110


def clean_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without the variables that would run code or change bash before the snippet."""
    return {k: v for k, v in env.items() if k not in UNSAFE_ENV and not k.startswith("BASH_FUNC_")}


def invocation(text: str) -> list[str]:
    """The argv that runs ``text`` (the signed text)."""
    return [bash_path(), "--noprofile", "--norc", "-c", text, ARGV0]


class Masker:
    """Replace each secret value with ``[secret NAME]`` in a stream that arrives in chunks.

    A value split across chunks is still found: up to the longest value's length minus one
    byte is held back until the next chunk (or `flush`).
    """

    def __init__(self, secrets: Mapping[str, str]) -> None:
        pairs = [(v.encode(), f"[secret {k}]".encode()) for k, v in secrets.items() if v]
        self.pairs = sorted(pairs, key=lambda pair: -len(pair[0]))  # longest first on ties
        self.hold = max((len(v) for v, _ in self.pairs), default=1) - 1
        self.pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """The masked bytes that are final so far."""
        data = self.pending + chunk
        out = bytearray()
        while True:
            found = [(data.find(v), i) for i, (v, _) in enumerate(self.pairs)]
            hits = [(at, i) for at, i in found if at >= 0]
            if not hits:
                break
            at, i = min(hits)
            value, label = self.pairs[i]
            out += data[:at] + label
            data = data[at + len(value) :]
        cut = max(0, len(data) - self.hold)
        out += data[:cut]
        self.pending = data[cut:]
        return bytes(out)

    def flush(self) -> bytes:
        """The bytes held back at the end of the stream."""
        rest, self.pending = self.pending, b""
        return rest


class _Tee(threading.Thread):
    """Copy a pipe to a descriptor as it arrives; hash it; optionally keep a copy.

    With a `Masker`, the hash and the kept copy are of the masked stream (secret values
    replaced); the descriptor still gets the stream as it is, live.
    """

    def __init__(
        self, source: IO[bytes], target_fd: int, keep: IO[bytes] | None, mask: Masker | None
    ) -> None:
        super().__init__(daemon=True)
        self.source, self.target_fd, self.keep, self.mask = source, target_fd, keep, mask
        self.sha = hashlib.sha256()

    def _record(self, data: bytes) -> None:
        self.sha.update(data)
        if self.keep is not None:
            self.keep.write(data)

    def run(self) -> None:
        fd = self.source.fileno()
        writable = True
        while chunk := os.read(fd, CHUNK):
            self._record(self.mask.feed(chunk) if self.mask is not None else chunk)
            view = memoryview(chunk)
            while writable and view:
                try:
                    view = view[os.write(self.target_fd, view) :]
                except OSError:  # our stdout went away: keep draining so the snippet is not blocked
                    writable = False
        if self.mask is not None:
            self._record(self.mask.flush())

    @property
    def digest(self) -> str:
        return "sha256:" + self.sha.hexdigest()


@contextlib.contextmanager
def _signals_forwarded(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Ignore SIGINT (the child gets its own from the terminal); forward SIGTERM/SIGHUP."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    forward = {signal.SIGTERM, signal.SIGHUP}
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *forward)}
    signal.signal(signal.SIGINT, lambda *_: None)
    for sig in forward:
        signal.signal(sig, lambda signum, _frame: proc.send_signal(signum))
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def execute(
    text: str,
    env: Mapping[str, str],
    capture: Path | None,
    out_fd: int = 1,
    err_fd: int = 2,
    *,
    secrets: Mapping[str, str] | None = None,
) -> Execution:
    """Run ``text`` with a clean bash; stream, hash and optionally capture its output.

    ``secrets`` (name -> value) are masked in what is hashed and captured (`Masker`).
    """
    keep = _capture_files(capture)
    start = time.monotonic()
    proc = subprocess.Popen(
        invocation(text),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_environment(env),
        close_fds=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    tees = [
        _Tee(pipe, fd, kept, Masker(secrets) if secrets else None)
        for pipe, fd, kept in ((proc.stdout, out_fd, keep[0]), (proc.stderr, err_fd, keep[1]))
    ]
    with _signals_forwarded(proc):
        for tee in tees:
            tee.start()
        status = proc.wait()
        for tee in tees:
            tee.join()
    duration = int((time.monotonic() - start) * 1000)
    proc.stdout.close()
    proc.stderr.close()
    if capture is not None:
        for tee, handle in zip(tees, keep, strict=True):
            _store(capture, handle, tee.digest)
    code = status if status >= 0 else 128 - status
    return Execution(min(code, 255), duration, tees[0].digest, tees[1].digest)


def _capture_files(capture: Path | None) -> tuple[IO[bytes] | None, IO[bytes] | None]:
    if capture is None:
        return None, None
    capture.mkdir(mode=0o700, parents=True, exist_ok=True)
    return tuple(  # type: ignore[return-value]
        tempfile.NamedTemporaryFile(dir=capture, prefix=".tmp-", delete=False) for _ in range(2)
    )


def _store(capture: Path, handle: IO[bytes] | None, digest: str) -> None:
    """Keep a captured stream as ``<capture>/<hex>`` (content-addressed, 0600)."""
    assert handle is not None
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()
    final = capture / digest.removeprefix("sha256:")
    tmp = Path(handle.name)
    if final.exists():
        tmp.unlink()
    else:
        tmp.chmod(0o600)
        tmp.replace(final)
