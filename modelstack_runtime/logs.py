"""Log set-up for the entry points: access lines are bare JSON, one per request."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO

from modelstack_runtime.dataplane import set_access_sink

__all__ = ["StreamAccessLog", "configure_logging"]


class StreamAccessLog:
    """Writes each access line straight to a stream, one locked write + flush per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def configure_logging(stream: TextIO | None = None, level: int = logging.INFO) -> None:
    """Send access lines (bare JSON) and runtime messages to ``stream`` (default stderr)."""
    out = stream or sys.stderr
    set_access_sink(StreamAccessLog(out))
    runtime = logging.getLogger("modelstack_runtime")
    if not runtime.handlers:
        handler = logging.StreamHandler(out)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        runtime.addHandler(handler)
    runtime.setLevel(level)
