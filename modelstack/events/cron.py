"""5-field cron expressions (UTC): validation, and the AWS EventBridge Scheduler form.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC), day of week
(0-7 or SUN-SAT, 0 and 7 are Sunday). Each field is `*`, a value, a range `a-b`, any of those
with a step `/n`, or a comma-separated list of them.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Final

from modelstack.errors import ManifestError

__all__ = ["CronError", "aws_schedule_expression", "check_cron", "cron_matches"]

_FIELDS: Final = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                      "NOV", "DEC")),
    ("day of week", 0, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")),
)  # fmt: skip
_PART: Final = re.compile(r"^(\*|[0-9A-Za-z]{1,3}(?:-[0-9A-Za-z]{1,3})?)(?:/([0-9]{1,2}))?$")
MAX_CRON_CHARS: Final = 256


class CronError(ManifestError):
    """A cron expression that is not five valid fields."""


def check_cron(expression: str) -> tuple[str, ...]:
    """The five fields of a valid expression; CronError says which field is wrong and why."""
    if len(expression) > MAX_CRON_CHARS:
        raise CronError(f"the cron expression is longer than {MAX_CRON_CHARS} characters")
    fields = tuple(expression.split())
    if len(fields) != 5:
        raise CronError(
            f"{expression!r} has {len(fields)} field(s); a cron expression has 5: "
            "minute hour day-of-month month day-of-week, such as '0 3 * * *'"
        )
    for text, (label, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in text.split(","):
            _check_part(part, label, low, high, names)
    return fields


def _check_part(part: str, label: str, low: int, high: int, names: tuple[str, ...]) -> None:
    match = _PART.match(part)
    if match is None:
        raise CronError(
            f"{label} {part!r} is not valid: use *, a value, a range a-b, a step */n or a list"
        )
    span, step = match.group(1), match.group(2)
    if step is not None and not 1 <= int(step) <= high:
        raise CronError(f"{label} step /{step} must be between 1 and {high}")
    if span == "*":
        return
    bounds = [_value(v, label, low, high, names) for v in span.split("-")]
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise CronError(f"{label} range {span} runs backwards; write the smaller value first")


def _value(text: str, label: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if text.upper() in names:
        return names.index(text.upper()) + low
    if not text.isdigit() or not low <= int(text) <= high:
        hint = f" or {names[0]}-{names[-1]}" if names else ""
        raise CronError(f"{label} {text!r} is outside {low}-{high}{hint}")
    return int(text)


def aws_schedule_expression(expression: str) -> str:
    """`cron(...)` for EventBridge Scheduler: six fields, `?` in one of the day fields and
    days of the week counted from 1 (Sunday)."""
    minute, hour, dom, month, dow = check_cron(expression)
    if dom != "*" and dow != "*":
        raise CronError(
            f"{expression!r} sets both the day of month and the day of week; AWS schedules "
            "take one of them (put * in the other)"
        )
    if dow == "*":
        dow = "?"
    else:
        dom = "?"
        dow = ",".join(_aws_day_part(part) for part in dow.split(","))
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


_DAYS: Final = _FIELDS[4][3]


def _aws_day_part(part: str) -> str:
    """Days of the week by name (AWS counts them from 1); a range up to 7 ends on SAT + SUN."""
    span, _, step = part.partition("/")
    if span == "*":
        return part
    bounds = [_value(v, "day of week", 0, 7, _DAYS) for v in span.split("-")]
    tail = ""
    if len(bounds) == 2 and bounds[1] == 7 and bounds[0] > 0:
        reaches_sunday = not step or (7 - bounds[0]) % int(step) == 0
        bounds[1], tail = 6, ",SUN" if reaches_sunday else ""
    named = "-".join(_DAYS[b % 7] for b in bounds)
    return (f"{named}/{step}" if step else named) + tail


def cron_matches(expression: str, when: datetime) -> bool:
    """Whether `expression` fires in the minute of `when` (read as UTC). As in cron, when both
    day fields are restricted, either of them matching is enough."""
    minute, hour, dom, month, dow = check_cron(expression)
    utc = when.astimezone(timezone.utc) if when.tzinfo else when
    weekday = (utc.weekday() + 1) % 7  # cron counts from Sunday = 0
    day_fields = (
        _in_field(dom, utc.day, 2),
        _in_field(dow, weekday, 4) or (weekday == 0 and _in_field(dow, 7, 4)),
    )
    if dom != "*" and dow != "*":
        days = day_fields[0] or day_fields[1]
    else:
        days = day_fields[0] and day_fields[1]
    return (
        _in_field(minute, utc.minute, 0)
        and _in_field(hour, utc.hour, 1)
        and _in_field(month, utc.month, 3)
        and days
    )


def _in_field(text: str, value: int, index: int) -> bool:
    label, low, high, names = _FIELDS[index]
    for part in text.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        else:
            bounds = [_value(v, label, low, high, names) for v in span.split("-")]
            first = bounds[0]
            # `a-b`, `a/n` (from a to the end of the range) or a single value
            last = bounds[1] if len(bounds) == 2 else (high if step else first)
        if first <= value <= last and (value - first) % int(step or 1) == 0:
            return True
    return False
