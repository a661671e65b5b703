"""Replacing a file so that a crash at any moment leaves the old content or the new, never half.

The one implementation of it in modelstack: write a temporary file beside the target, flush
and fsync it, then rename it over the target (atomic on POSIX within one file system).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: str | bytes) -> None:
    """Replace `path` with `data` (str is written as UTF-8, newlines as given).

    The new file keeps the permissions of the file it replaces; a new file gets the usual
    ones (0o666 less the umask). The temporary file is removed when anything fails.
    """
    content = data.encode("utf-8") if isinstance(data, str) else data
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(temporary, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileNotFoundError):  # a new file keeps the mode it was made with
            os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
