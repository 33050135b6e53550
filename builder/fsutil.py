"""Write-once, crash-safe file system steps: fsync'd writes, no-replace renames, one writer."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

LOCK = ".lock"
"""The lock file of a folder one writer at a time may change (hidden: readers skip it)."""


def lock_file(folder: Path) -> int:
    """Open (creating it and ``folder``) ``folder/.lock``; raises `OSError`.

    A symbolic link planted there is not followed (``O_NOFOLLOW``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    return os.open(folder / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)


@contextlib.contextmanager
def exclusive(fd: int, waiting: str, stream: TextIO | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file ``fd`` (`lock_file`); close it after.

    When another process holds it, print ``sealbook: <waiting>`` once and wait. The lock
    dies with its process, so a killed writer never blocks the next one.
    """
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"sealbook: {waiting}", file=stream or sys.stderr, flush=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def write_synced(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Create ``path`` (must not exist) with ``data`` and fsync it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a folder so a rename or create in it is durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every folder under ``root`` (files are synced as they are written)."""
    for dirpath, _dirs, _files in os.walk(root):
        fsync_dir(Path(dirpath))


def rename_noreplace(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst``, failing with FileExistsError if ``dst`` exists.

    Linux ``renameat2(RENAME_NOREPLACE)`` makes the check and the rename one atomic
    step; elsewhere we fall back to check-then-rename (``os.rename`` would silently
    replace an empty folder).
    """
    libc = _libc()
    if libc is not None:
        res = libc.renameat2(
            _AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE
        )
        if res == 0:
            return
        err = ctypes.get_errno()
        if err == errno.EEXIST:
            raise FileExistsError(errno.EEXIST, "exists", str(dst))
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err), str(dst))
    if dst.exists():
        raise FileExistsError(errno.EEXIST, "exists", str(dst))
    src.rename(dst)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        _ = libc.renameat2
    except (OSError, AttributeError):
        return None
    return libc
