"""Reading hostile files safely: regular files only (a FIFO must not hang us), size-limited."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from verifier.errors import InputError


def open_regular(path: Path | str, *, follow_links: bool = True) -> tuple[BinaryIO, os.stat_result]:
    """A regular file, open for reading, and its stat; OSError for anything else.

    O_NONBLOCK: opening a FIFO planted where a file should be returns at once instead of
    waiting for a writer; it is then refused as not a regular file. ``follow_links=False``
    refuses a symbolic link too (O_NOFOLLOW).
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    fh = os.fdopen(os.open(path, flags), "rb")
    st = os.fstat(fh.fileno())
    if not stat.S_ISREG(st.st_mode):
        fh.close()
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fh, st


def read_regular(path: Path, limit: int) -> bytes:
    """Up to ``limit`` bytes of a regular file; OSError for anything else (`open_regular`)."""
    fh, _ = open_regular(path)
    with fh:
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
