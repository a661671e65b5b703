"""Event-driven batch: the manifest's `events:` (queues, bucket prefixes, schedules).

`spec` types the section; lint rules (MS930-MS959) check the platform limits; the providers
turn each source into their cloud's resources, and the local target runs a poller.
"""

from __future__ import annotations

from modelstack.events.spec import (
    BucketSpec,
    EventSource,
    OutputSpec,
    QueueSpec,
    ScheduleSpec,
    parse_events,
)

__all__ = ["BucketSpec", "EventSource", "OutputSpec", "QueueSpec", "ScheduleSpec", "parse_events"]
