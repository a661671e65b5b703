"""The cloud names of an event source's queues (the same in Pulumi, the poller and the CLI)."""

from __future__ import annotations

from modelstack.events.spec import EventSource
from modelstack.pulumi.naming import fit

__all__ = ["dlq_name", "queue_name"]


def queue_name(base: str, source: EventSource, suffix: str = "") -> str:
    """`<model>-<target>-<source>` (plus `.fifo` for a FIFO queue), within SQS's 80 characters."""
    fifo = source.queue is not None and source.queue.fifo
    name = fit(f"{base}-{source.name}{suffix}", 75)
    return f"{name}.fifo" if fifo else name


def dlq_name(base: str, source: EventSource) -> str:
    return queue_name(base, source, "-dlq")
