"""Provisioned-concurrency schedules as levels for each hour of the week.

Application Auto Scaling scheduled actions set a new minimum and maximum at the times their
expression names; a level lasts until the next action. `cron(M H DOM MON DOW YEAR)` with a
day-of-week field (1-7 = SUN-SAT, or SUN..SAT names, ranges and lists) and `rate(N hours)` /
`rate(N days)` are understood; a one-off `at(...)` changes nothing in a typical week.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from modelstack.errors import CostError
from modelstack.providers.aws_lambda.target import ProvisionedConcurrency, Schedule

__all__ = ["action_hours", "provisioned_levels"]

_DAYS: Final = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_CRON: Final = re.compile(r"^cron\((.+)\)$")
_RATE: Final = re.compile(r"^rate\((\d+) (hour|hours|day|days)\)$")
_REFERENCE_MONDAY: Final = datetime(2026, 1, 5, tzinfo=timezone.utc)
"""Offsets of named time zones are taken in this week (winter time in the north)."""


def _field(text: str, low: int, high: int, names: dict[str, int], what: str) -> set[int]:
    if text in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in text.split(","):
        bounds = [names.get(b.upper()) if not b.isdigit() else int(b) for b in part.split("-")]
        if None in bounds or len(bounds) not in (1, 2):
            raise CostError(
                f"schedule {what} field {text!r} is not understood (use N, N-M or a list)"
            )
        first, last = bounds[0], bounds[-1]
        assert first is not None and last is not None
        if not (low <= first <= last <= high):
            raise CostError(f"schedule {what} field {text!r} must lie in {low}-{high}")
        values.update(range(first, last + 1))
    return values


def action_hours(expression: str, tz: str = "UTC") -> list[int]:
    """The hours of the week (0 = Monday 00:00 UTC) at which a scheduled action fires."""
    offset = _offset_hours(tz)
    rate = _RATE.match(expression)
    if rate:
        step = int(rate.group(1)) * (24 if rate.group(2).startswith("day") else 1)
        return list(range(0, 168, max(1, step)))
    if expression.startswith("at("):
        return []
    cron = _CRON.match(expression)
    parts = cron.group(1).split() if cron else []
    if len(parts) != 6:
        raise CostError(
            f"schedule {expression!r} is not cron(M H DOM MON DOW YEAR), rate(N hours|days) "
            "or at(...)"
        )
    hours = _field(parts[1], 0, 23, {}, "hour")
    days = _field(parts[4], 1, 7, _DAYS, "day-of-week")
    local = [((d + 5) % 7) * 24 + h for d in days for h in hours]  # SUN=1 -> day 6 of the week
    return sorted((h - offset) % 168 for h in local)


def _offset_hours(tz: str) -> int:
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CostError(f"unknown time zone {tz!r} in a provisioned-concurrency schedule") from None
    delta = _REFERENCE_MONDAY.astimezone(zone).utcoffset() or timedelta(0)
    return round(delta.total_seconds() / 3600)


def provisioned_levels(pc: ProvisionedConcurrency) -> tuple[list[int], list[int]]:
    """(minimum, maximum) provisioned concurrency in each hour of the week."""
    actions: list[tuple[int, int, Schedule]] = []
    for order, schedule in enumerate(pc.schedules):
        actions += [
            (h, order, schedule) for h in action_hours(schedule.schedule, schedule.timezone)
        ]
    actions.sort(key=lambda a: (a[0], a[1]))
    low, high = pc.min, pc.max
    if actions:  # the week repeats: the last action of the week is in force at its start
        low, high = actions[-1][2].min, actions[-1][2].max
    mins, maxs = [], []
    pending: Sequence[tuple[int, int, Schedule]] = actions
    for hour in range(168):
        while pending and pending[0][0] == hour:
            low, high = pending[0][2].min, pending[0][2].max
            pending = pending[1:]
        mins.append(low)
        maxs.append(max(low, high))
    return mins, maxs
