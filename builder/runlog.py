"""Append records to a run log: exclusive lock, one write, fsync; torn tails recovered.

The format is `verifier.runlog` (the verifier owns formats). Every append:

1. opens the log ``O_APPEND | O_NOFOLLOW`` (created 0600, folders 0700) and takes
   ``flock(LOCK_EX)``, so concurrent ``sealbook run`` processes append one at a time;
2. reads the tail: the last line that is a chain position (`chain_position`) gives
   ``seq`` and ``prev``; any bytes after it are *torn* (a writer died mid-write);
3. if there are torn bytes, they stay in place: a ``\\n`` ends them (unless they already
   end with one) and a ``recovered`` record carrying their digest and length continues
   the chain from the last complete record;
4. writes the new line(s) in one ``write`` and ``fsync``s the file (and the folder when
   the log was created).

Default location: ``$SEALBOOK_LOG``, else ``$XDG_STATE_HOME/sealbook/runs.jsonl``, else
``~/.local/state/sealbook/runs.jsonl``.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import socket
import stat
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from verifier.digests import digest
from verifier.errors import EXIT_REFUSED, SealbookError
from verifier.runlog import (
    EMPTY_HEAD,
    GENESIS,
    Head,
    encode,
    find_head,
    format_time,
    line_hash,
    schema_for,
)

LOG_ENV = "SEALBOOK_LOG"


class RunLogError(SealbookError):
    """The run log cannot be appended to; nothing ran."""

    exit_code = EXIT_REFUSED


def default_log_path(env: Mapping[str, str] | None = None) -> Path:
    """``$SEALBOOK_LOG``, else ``$XDG_STATE_HOME/sealbook/runs.jsonl``, else ``~/.local/state/...``."""
    env = os.environ if env is None else env
    if env.get(LOG_ENV):
        return Path(env[LOG_ENV])
    state = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "sealbook" / "runs.jsonl"


def new_run_id() -> str:
    """A fresh run id: 32 lower-case hex digits (random)."""
    return uuid.uuid4().hex


def local_identity() -> tuple[str, str]:
    """(host, user) as this host reports them (the log cannot prove either)."""
    return socket.gethostname()[:1024], _user_name(os.geteuid())[:1024]


LOGIN_UID = Path("/proc/self/loginuid")
_NO_LOGIN_UID = 4294967295


def invoking_user(env: Mapping[str, str] | None = None) -> str:
    """Who invoked the run, beside the effective user (root under sudo).

    The login uid the kernel keeps across sudo and su (``/proc/self/loginuid``, set at login
    by PAM), else ``$SUDO_USER``, else the effective user. Like every identity in the log it
    is what the host reports: a root user can change any of them.
    """
    env = os.environ if env is None else env
    try:
        uid = int(LOGIN_UID.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        uid = _NO_LOGIN_UID
    if uid != _NO_LOGIN_UID:
        return _user_name(uid)[:1024]
    sudo = env.get("SUDO_USER", "")
    if sudo:
        return sudo[:1024]
    return _user_name(os.geteuid())[:1024]


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@dataclass(frozen=True)
class Tail:
    """The end of a log: the last record's head, and the torn bytes after it."""

    last: Head
    torn: bytes


def read_tail(fd: int, where: str) -> Tail:
    """The head (`verifier.runlog.find_head`, as the verifier finds it) and the torn bytes."""
    size = os.fstat(fd).st_size
    found = find_head(lambda count, offset: os.pread(fd, count, offset), size)
    if found is None:
        raise _no_record(where)
    head, torn_at = found
    return Tail(head, os.pread(fd, size - torn_at, torn_at) if torn_at < size else b"")


def _no_record(where: str) -> RunLogError:
    return RunLogError(
        where,
        "no run record among the log's last lines",
        "inspect it with `sealbook-verify logs`; move it aside to start a new log",
    )


def _open_log(path: Path) -> tuple[int, bool]:
    """Open (or create) the log for appending; return (fd, created)."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | os.O_NOFOLLOW
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o600), True
        except FileExistsError:
            return os.open(path, flags), False
    except OSError as exc:  # the parent is a file, no permission, a link planted as the log...
        raise RunLogError(
            str(path),
            f"cannot open the run log for appending ({exc.strerror}); nothing ran",
            "pass a --log FILE in a writable folder",
        ) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class RunLog:
    """A run log file; every method takes the lock it needs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, fields: dict[str, Any]) -> Head:
        """Append one record (``schema``, ``seq`` and ``prev`` are filled in); return the new head.

        ``fields`` holds everything else of the record (`verifier.runlog`). Torn bytes at
        the end of the log are first covered by a ``recovered`` record.
        """
        fd, created = _open_log(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RunLogError(str(self.path), "is not a regular file", "pass --log FILE")
            tail = read_tail(fd, str(self.path))
            data, head = self._lines(tail, fields)
            try:
                _write_all(fd, data)
                os.fsync(fd)
            except OSError as exc:
                raise RunLogError(
                    str(self.path),
                    f"cannot write the run log ({exc.strerror})",
                    "free space or fix permissions",
                ) from None
        finally:
            os.close(fd)  # also releases the lock
        if created:
            _fsync_dir(self.path.parent)
        return head

    @staticmethod
    def _lines(tail: Tail, fields: dict[str, Any]) -> tuple[bytes, Head]:
        """The bytes to append after ``tail``: recovery (if torn), then the record."""
        head, out = tail.last, b""
        if tail.torn:
            recovered = {
                "type": "recovered",
                "time": format_time(datetime.now(UTC)),
                "run_id": new_run_id(),
                "host": fields.get("host", ""),
                "user": fields.get("user", ""),
                "torn_digest": digest(tail.torn),
                "torn_bytes": len(tail.torn),
            } | ({"invoker": fields["invoker"]} if "invoker" in fields else {})
            line = _encode(recovered, head)
            out = (b"" if tail.torn.endswith(b"\n") else b"\n") + line
            head = Head(head.seq + 1, line_hash(line))
        line = _encode(fields, head)
        return out + line, Head(head.seq + 1, line_hash(line))

    def tail(self) -> Tail:
        """The current head and torn bytes, under a shared lock; empty if there is no log."""
        try:
            # O_NONBLOCK: a FIFO given as --log must not hang `sealbook log head`.
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return Tail(EMPTY_HEAD, b"")
        except OSError as exc:
            raise RunLogError(
                str(self.path), f"cannot read the run log ({exc.strerror})", "check --log"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RunLogError(str(self.path), "is not a regular file", "pass --log FILE")
            fcntl.flock(fd, fcntl.LOCK_SH)
            return read_tail(fd, str(self.path))
        finally:
            os.close(fd)


def _encode(fields: dict[str, Any], after: Head) -> bytes:
    record = {**fields, "schema": schema_for(fields), "seq": after.seq + 1, "prev": after.hash}
    try:
        return encode(record)
    except ValueError as exc:  # a bug in the caller, never user input
        raise RunLogError("run record", str(exc), "report this as a sealbook bug") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


__all__ = ["GENESIS", "RunLog", "RunLogError", "Tail", "default_log_path", "local_identity"]
