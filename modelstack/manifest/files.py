"""Reading untrusted files: regular files only, never more than a limit allows.

A path in a bundle may name a device (`/dev/zero` behind a symlink), a FIFO that never ends,
a socket or a directory. Every file the tool reads from a bundle or its state goes through
`open_regular`: it opens without blocking, checks what the open descriptor is (so a swap
after the check cannot slip through), and bounds the size before anything is allocated.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from typing import BinaryIO

from modelstack.errors import UnsafeFileError
from modelstack.manifest.limits import Limit

__all__ = ["describe_mode", "open_regular", "read_regular", "regular_file_problem"]

_UNREADABLE = UnsafeFileError.UNREADABLE
_TOO_LARGE = UnsafeFileError.TOO_LARGE
_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
)


def describe_mode(mode: int) -> str:
    """What kind of file a `st_mode` is, in words ('a regular file', 'a FIFO (named pipe)')."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((words for test, words in _KINDS if test(mode)), "not a regular file")


def regular_file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why `path` (symlinks followed) cannot be read as a regular file, or None if it can."""
    found = _problem(path)
    return found[1] if found else None


def _problem(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(UnsafeFileError kind, reason) when `path` is not a readable regular file."""
    try:
        mode = os.stat(path).st_mode
    except ValueError:
        return _UNREADABLE, "the path contains a NUL byte"
    except OSError as exc:
        return _UNREADABLE, f"cannot read it: {exc.strerror}"
    if stat.S_ISREG(mode):
        return None
    return UnsafeFileError.NOT_REGULAR, f"it is {describe_mode(mode)}, not a regular file"


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str], limit: Limit) -> Iterator[tuple[BinaryIO, int]]:
    """The open file and its size, when `path` is a regular file within `limit`.

    Raises UnsafeFileError (with the reason alone, for callers to place) otherwise.
    """
    name = os.fspath(path)
    found = _problem(name)  # checked before opening: opening a device can act on it
    if found is not None:
        raise UnsafeFileError(name, found[1], found[0])
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UnsafeFileError(name, f"cannot read it: {exc.strerror}", _UNREADABLE) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped since the check
            raise UnsafeFileError(
                name,
                f"it is {describe_mode(info.st_mode)}, not a regular file",
                UnsafeFileError.NOT_REGULAR,
            )
        if info.st_size > limit.value():
            raise UnsafeFileError(name, _too_large(info.st_size, limit), _TOO_LARGE)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with handle:
        yield handle, info.st_size


def read_regular(path: str | os.PathLike[str], limit: Limit) -> bytes:
    """The bytes of the regular file at `path`, reading at most the limit plus one byte."""
    with open_regular(path, limit) as (handle, _):
        maximum = limit.value()
        chunks: list[bytes] = []
        total = 0
        while total <= maximum:  # the file may have grown since fstat: read in bounded chunks
            chunk = handle.read(min(_CHUNK, maximum + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > maximum:
            raise UnsafeFileError(os.fspath(path), _too_large(total, limit, more=True), _TOO_LARGE)
        return b"".join(chunks)


def _too_large(size: int, limit: Limit, *, more: bool = False) -> str:
    at_least = "at least " if more else ""
    return f"the file is {at_least}{size:,} bytes, over the limit on {limit.bounds}; {limit.hint()}"
