"""Event-driven batch: queue messages and bucket objects reach the same data plane as HTTP.

Adapters per event shape, one shared core:

* `sqs` — an SQS batch; answers ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``
  naming only the messages that failed, so a poison message fails alone;
* `s3` — S3 notification records; each object's rows are scored in batches and written as one
  ``.jsonl`` object; a malformed or oversize object is reported and skipped, the rest go on;
* `rows` — bounded ``.npz``/``.jsonl``/``.csv`` readers (shared by every cloud);
* `outputs` — idempotent writes keyed by message or object id;
* `schedule` — a schedule's run rescores its prefix: on Lambda the EventBridge Scheduler
  input ``{"modelstack_rescore": {"source": name}}``, on Cloud Run the Cloud Scheduler job's
  ``POST /_events/schedule/<source>``;
* `config` — which source an event came from and where its results go (MODELSTACK_EVENTS).

`batch_event_kind` recognises an event's shape; the Lambda handler calls `handle_batch_event`
for those and handles everything else as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane
    from modelstack_runtime.events.clients import Clients
    from modelstack_runtime.events.config import EventsConfig

__all__ = ["BatchEventKind", "batch_event_kind", "handle_batch_event"]

BatchEventKind = Literal["sqs", "s3", "rescore"]


def batch_event_kind(event: Any) -> BatchEventKind | None:
    """The shape of a batch event: an SQS or S3 batch of records, or a schedule's rescore
    (``{"modelstack_rescore": {"source": name}}``); None for any other event."""
    if not isinstance(event, Mapping):
        return None
    if isinstance(event.get("modelstack_rescore"), Mapping):
        return "rescore"
    records = event.get("Records")
    if not isinstance(records, list) or not records or not isinstance(records[0], Mapping):
        return None
    source = records[0].get("eventSource")
    if source == "aws:sqs":
        return "sqs"
    if source == "aws:s3":
        return "s3"
    return None


def handle_batch_event(
    dataplane: DataPlane,
    event: Mapping[str, Any],
    *,
    config: EventsConfig | None = None,
    clients: Clients | None = None,
) -> dict[str, Any]:
    """Score a batch event; the answer is in the shape its event source expects."""
    from modelstack_runtime.events.clients import default_clients
    from modelstack_runtime.events.config import EventsConfig

    config = EventsConfig.from_env() if config is None else config
    clients = default_clients() if clients is None else clients
    kind = batch_event_kind(event)
    if kind == "s3":
        from modelstack_runtime.events.s3 import handle_s3_event

        return handle_s3_event(dataplane, event, config=config, clients=clients)
    if kind == "rescore":
        from modelstack_runtime.events.schedule import handle_rescore

        return handle_rescore(dataplane, event, config=config, clients=clients)
    from modelstack_runtime.events.sqs import handle_sqs_batch

    return handle_sqs_batch(dataplane, event, config=config, clients=clients)
