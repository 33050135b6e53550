"""Reading hostile files safely: regular files only (a FIFO must not hang us), size-limited."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from verifier.errors import InputError


def read_regular(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; OSError for anything else.

    O_NONBLOCK: opening a FIFO planted where a file should be returns at once instead of
    waiting for a writer; it is then refused as not a regular file.
    """
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return fh.read(limit)


def read_limited(path: Path, limit: int, what: str) -> bytes:
    """Read a regular file of at most ``limit`` bytes or raise `InputError` naming it."""
    try:
        data = read_regular(path, limit + 1)
    except FileNotFoundError:
        raise InputError(str(path), f"{what} is missing", "restore it or check the path") from None
    except OSError as exc:
        raise InputError(
            str(path), f"cannot read {what} ({exc.strerror})", "check the path and permissions"
        ) from None
    if len(data) > limit:
        raise InputError(
            str(path), f"{what} is larger than {limit >> 20} MiB", "is this the right file?"
        )
    return data
