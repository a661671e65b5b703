"""The local target's schedules: each schedule source fires at its cron times (UTC).

What EventBridge Scheduler does for an aws-lambda target: at each minute the cron expression
names, the function's `live` alias is invoked with `{"modelstack_rescore": {"source": NAME}}`
and rescores the source's prefix. The minute the clock starts in does not fire (a restarted
process must not run it twice); `modelstack events --source NAME --trigger` fires one now.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from modelstack.events.cron import cron_matches
from modelstack.events.spec import EventSource
from modelstack.providers.local.events_poller import Invoke

__all__ = ["ScheduleClock", "fire", "rescore_event"]

logger = logging.getLogger("modelstack")


def rescore_event(source: str) -> bytes:
    """The event a schedule sends: rescore the named source's prefix."""
    return json.dumps({"modelstack_rescore": {"source": source}}).encode()


class ScheduleClock:
    """Fires the schedule sources whose cron expression names the current minute."""

    def __init__(
        self,
        sources: Sequence[EventSource],
        invoke: Invoke,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        self.sources = [s for s in sources if s.schedule is not None]
        self.invoke = invoke
        self.now = now
        self.last_minute = self._minute(now())

    def tick(self) -> list[str]:
        """Fire what is due in a minute not yet handled; the names of the sources fired."""
        minute = self._minute(self.now())
        if minute <= self.last_minute:
            return []
        self.last_minute = minute
        fired = []
        for source in self.sources:
            assert source.schedule is not None
            if cron_matches(source.schedule.cron, minute):
                fire(source.name, self.invoke)
                fired.append(source.name)
        return fired

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception as exc:
                logger.warning("a schedule could not fire: %s", exc)
            stop.wait(interval_s)

    @staticmethod
    def _minute(when: datetime) -> datetime:
        return when.astimezone(timezone.utc).replace(second=0, microsecond=0)


def fire(name: str, invoke: Invoke) -> tuple[bytes, bool]:
    """Invoke one schedule source's rescore now; the answer is logged."""
    started = time.monotonic()
    reply, error = invoke(rescore_event(name))
    outcome = "failed" if error else "done"
    text = reply[:512].decode("utf-8", "replace")
    logger.info("schedule %s %s in %.1f s: %s", name, outcome, time.monotonic() - started, text)
    return reply, error
