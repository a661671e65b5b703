"""Log set-up for the entry points: access lines are bare JSON, one per request.

The HTTP server batches access lines (:class:`BufferedAccessLog`): a request appends its line
to a list, and a background thread writes what has gathered ``ACCESS_FLUSH_INTERVAL_S`` later
in one write. ``ACCESS_MAX_BUFFERED_LINES`` waiting lines are written at once by the request
that reached the limit, so memory stays bounded when the stream is slow. ``close()`` (called
on shutdown, and at interpreter exit) writes every line left. The Lambda adapter writes each
line at once (:class:`StreamAccessLog`): a frozen function would not flush later.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import sys
import threading
from typing import Final, TextIO

from modelstack_runtime.dataplane import set_access_sink

__all__ = [
    "ACCESS_FLUSH_INTERVAL_S",
    "ACCESS_MAX_BUFFERED_LINES",
    "BufferedAccessLog",
    "StreamAccessLog",
    "configure_logging",
]

ACCESS_FLUSH_INTERVAL_S: Final = 0.1
"""At most this long passes between a request and the write of its access line."""
ACCESS_MAX_BUFFERED_LINES: Final = 1024
"""At most this many access lines wait in memory for the background write."""


class StreamAccessLog:
    """Writes each access line straight to a stream, one locked write + flush per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Nothing is buffered."""


class BufferedAccessLog:
    """Gathers access lines and writes them in batches, off the request path, in order."""

    def __init__(
        self,
        stream: TextIO,
        *,
        interval_s: float = ACCESS_FLUSH_INTERVAL_S,
        max_lines: int = ACCESS_MAX_BUFFERED_LINES,
    ) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._max_lines = max_lines
        self._lines: list[str] = []
        self._lock = threading.Lock()  # guards _lines
        self._write_lock = threading.Lock()  # one batch at a time, in the order taken
        self._pending = threading.Event()  # lines are waiting
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def __call__(self, line: str) -> None:
        with self._lock:
            lines = self._lines
            lines.append(line)
            count = len(lines)
        if count == 1:
            self._pending.set()
        elif count >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        """Write every waiting line now."""
        with self._write_lock:
            with self._lock:
                batch, self._lines = self._lines, []
            if batch:
                self._stream.write("\n".join(batch) + "\n")
                self._stream.flush()

    def close(self) -> None:
        """Stop the background writer and write every line left; idempotent."""
        self._closed.set()
        self._pending.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5.0)
        self.flush()
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            self._pending.wait()
            if self._closed.wait(self._interval_s):
                return  # close() writes what is left
            self._pending.clear()  # before the batch is taken: a later line sets it again
            with contextlib.suppress(OSError, ValueError):  # a closed stream: nothing to do
                self.flush()


AccessLog = StreamAccessLog | BufferedAccessLog


def configure_logging(
    stream: TextIO | None = None, level: int = logging.INFO, *, buffered: bool = False
) -> AccessLog:
    """Send access lines (bare JSON) and runtime messages to ``stream`` (default stderr).

    With ``buffered``, access lines are written in batches (see the module notes); close the
    returned access log on shutdown.
    """
    out = stream or sys.stderr
    sink: AccessLog = BufferedAccessLog(out) if buffered else StreamAccessLog(out)
    set_access_sink(sink)
    runtime = logging.getLogger("modelstack_runtime")
    if not runtime.handlers:
        handler = logging.StreamHandler(out)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        runtime.addHandler(handler)
    runtime.setLevel(level)
    return sink
