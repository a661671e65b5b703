"""Interrupts during a deploy: SIGTERM (a cancelled CI job) acts like Ctrl-C, and neither may
interrupt the rollback that an interrupt starts."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["interrupts_as_keyboard", "shielded"]

_shielded = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if not _shielded.is_set():
        raise KeyboardInterrupt


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Inside the block SIGTERM raises KeyboardInterrupt, as Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored inside the block (used while rolling back)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    _shielded.set()
    try:
        yield
    finally:
        _shielded.clear()
        if main:
            signal.signal(signal.SIGINT, previous)
