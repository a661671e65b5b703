"""The `events:` entries a rule looks at."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from modelstack.errors import ManifestError
from modelstack.events.spec import EventSource, parse_events
from modelstack.lint.rule import LintContext

__all__ = ["event_sources", "raw_events"]


def raw_events(ctx: LintContext) -> list[Any]:
    """The `events:` entries as written (a broken entry of the list does not hide the rest)."""
    data = ctx.source.data
    events = data.get("events") if isinstance(data, dict) else None
    return events if isinstance(events, list) else []


def event_sources(ctx: LintContext) -> Iterator[tuple[int, EventSource]]:
    """Each entry that can be typed, with its index (the schema reports the others)."""
    for index, entry in enumerate(raw_events(ctx)):
        try:
            (source,) = parse_events([entry])
        except ManifestError:
            continue
        yield index, source
