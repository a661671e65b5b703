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
    try:
        mode = os.stat(path).st_mode
    except ValueError:
        return "the path contains a NUL byte"
    except OSError as exc:
        return f"cannot read it: {exc.strerror}"
    if stat.S_ISREG(mode):
        return None
    return f"it is {describe_mode(mode)}, not a regular file"


@contextlib.contextmanager
def open_regular(path: str | os.PathLike[str], limit: Limit) -> Iterator[tuple[BinaryIO, int]]:
    """The open file and its size, when `path` is a regular file within `limit`.

    Raises UnsafeFileError (with the reason alone, for callers to place) otherwise.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except ValueError:
        raise UnsafeFileError(name, "the path contains a NUL byte", _UNREADABLE) from None
    except OSError as exc:
        problem = regular_file_problem(name)  # a socket cannot be opened at all
        if problem and "not a regular file" in problem:
            raise UnsafeFileError(name, problem, UnsafeFileError.NOT_REGULAR) from None
        raise UnsafeFileError(name, f"cannot read it: {exc.strerror}", _UNREADABLE) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
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
        data = handle.read(maximum + 1)  # the file may have grown since fstat
        if len(data) > maximum:
            raise UnsafeFileError(
                os.fspath(path), _too_large(len(data), limit, more=True), _TOO_LARGE
            )
        return data


def _too_large(size: int, limit: Limit, *, more: bool = False) -> str:
    at_least = "at least " if more else ""
    return f"the file is {at_least}{size:,} bytes, over the limit on {limit.bounds}; {limit.hint()}"
