"""The one signal policy: SIGTERM (a cancelled CI job) and SIGHUP (a closed terminal) act like
Ctrl-C, so `finally` blocks and the rollout's rollback run as they do on KeyboardInterrupt;
and no interrupt may cut short the rollback that an interrupt starts (`shielded`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["TERMINATING", "interrupts_as_keyboard", "shielded"]

TERMINATING = (signal.SIGTERM, signal.SIGHUP)
"""The signals that raise KeyboardInterrupt inside `interrupts_as_keyboard`."""

_shielded = threading.Event()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if not _shielded.is_set():
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


@contextmanager
def interrupts_as_keyboard() -> Iterator[None]:
    """Inside the block SIGTERM and SIGHUP raise KeyboardInterrupt, as Ctrl-C does.

    Signal handlers belong to the main thread: elsewhere the block changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _interrupt) for sig in TERMINATING}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextmanager
def shielded() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP are ignored inside the block (used while rolling back)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    _shielded.set()
    try:
        yield
    finally:
        _shielded.clear()
        if main:
            signal.signal(signal.SIGINT, previous)
