"""Waiting for a condition: the one bounded poll loop every wait in modelstack uses."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["poll_until"]


def poll_until(
    predicate: Callable[[], object],
    timeout: float,
    interval: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call `predicate` every `interval` seconds until it returns something true or `timeout`
    seconds have passed; True when it did. It is called at least once, and once more when the
    time is up, so a condition met during the last sleep is not missed. An exception from the
    predicate (a process that died while starting) ends the wait at once."""
    deadline = clock() + timeout
    while True:
        if predicate():
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(interval, remaining))
