"""Lint rules for `events:` (MS930-MS959): the clouds' limits on queues, buckets, schedules.

| ids         | what                                                    |
|-------------|---------------------------------------------------------|
| MS930       | names                                                   |
| MS931-MS935 | queue limits (batch size, window, visibility, receives) |
| MS936       | schedules                                               |
| MS937-MS939 | outputs and bucket objects                              |
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modelstack.lint.rule import Rule

__all__ = ["event_rules"]


def event_rules() -> tuple[type[Rule], ...]:
    """The rules, imported when the lint registry is built (they import the lint framework)."""
    from modelstack.events.lint.names import EventNames
    from modelstack.events.lint.outputs import BucketSuffix, OutputLoop
    from modelstack.events.lint.queue import (
        AckDeadline,
        BatchingWindow,
        QueueBatchSize,
        ReceiveCount,
        VisibilityTimeout,
    )
    from modelstack.events.lint.schedule import ScheduleCron

    return (
        EventNames,
        QueueBatchSize,
        BatchingWindow,
        VisibilityTimeout,
        ReceiveCount,
        AckDeadline,
        ScheduleCron,
        OutputLoop,
        BucketSuffix,
    )
