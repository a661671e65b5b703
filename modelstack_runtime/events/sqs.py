"""The SQS batch adapter: a batch scored in as few model calls as it can be, only the
failures reported.

A message body is a v2 inference request (JSON) or a record ``{"input_name": value, ...}``
(one row per input). Every message is decoded and validated on its own, the valid ones are
stacked into as few model calls as their shapes allow (see `stacking`), and their results are
written at once (see `writes`). The answer is ``{"batchItemFailures": [{"itemIdentifier": id},
...]}`` (the event source mapping's ReportBatchItemFailures): the messages named go back to
the queue and, after maxReceiveCount receives, to the dead-letter queue; all others are
deleted. A bad message (4xx) fails alone, and so does one whose result could not be written;
a fault of the model (5xx) fails its message too and is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import ConfigError, InferenceError
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EventsConfig, SourceConfig
from modelstack_runtime.events.outputs import ResultWriter
from modelstack_runtime.events.records import request_of
from modelstack_runtime.events.stacking import MAX_MESSAGE_BYTES, Prepared, prepare, score_prepared
from modelstack_runtime.events.writes import output_concurrency, write_results

__all__ = ["MAX_MESSAGE_BYTES", "handle_sqs_batch", "request_of", "score_message"]

MAX_ERROR_CHARS: Final = 1024

logger = logging.getLogger("modelstack_runtime")


def handle_sqs_batch(
    dataplane: DataPlane, event: Mapping[str, Any], *, config: EventsConfig, clients: Clients
) -> dict[str, Any]:
    """Score the records together; answer the ids of the records that failed."""
    concurrency = output_concurrency()
    failed: dict[str, Exception] = {}
    ready: dict[str, list[Prepared]] = {}
    sources: dict[str, SourceConfig] = {}
    order: list[str] = []
    for index, record in enumerate(event.get("Records", [])):
        message_id = _message_id(record, index)
        order.append(message_id)
        try:
            source = _source(record, config)
            item = prepare(dataplane, record.get("body"), message_id=message_id)
        except Exception as exc:  # one message fails alone, whatever went wrong
            if isinstance(exc, InferenceError):
                size = len(body) if isinstance(body := record.get("body"), str) else 0
                dataplane.log_rejected(dataplane.config.model_name, exc, size, message_id)
            failed[message_id] = exc
            continue
        sources[source.name] = source
        ready.setdefault(source.name, []).append(item)
    for name, items in ready.items():
        outcomes = score_prepared(dataplane, items)
        results = {mid: out for mid, out in outcomes.items() if not isinstance(out, Exception)}
        failed.update({mid: out for mid, out in outcomes.items() if isinstance(out, Exception)})
        writer = ResultWriter(sources[name].output, objects=clients.objects, queues=clients.queues)
        failed.update(write_results(writer, results, concurrency=concurrency))
    ids = [mid for mid in dict.fromkeys(order) if mid in failed]
    for message_id in ids:
        _log_failure(message_id, failed[message_id])
    answer: dict[str, Any] = {"batchItemFailures": [{"itemIdentifier": mid} for mid in ids]}
    if config.report_errors:
        answer["errors"] = {mid: _error_text(failed[mid]) for mid in ids}
    return answer


def score_message(dataplane: DataPlane, body: Any, *, message_id: str) -> dict[str, Any]:
    """The v2 response to one message body (raises InferenceError for a bad one)."""
    outcome = score_prepared(dataplane, [prepare(dataplane, body, message_id=message_id)])
    result = outcome[message_id]
    if isinstance(result, Exception):
        raise result
    return result


def _message_id(record: Any, index: int) -> str:
    if isinstance(record, Mapping) and isinstance(record.get("messageId"), str):
        return str(record["messageId"])
    return f"record-{index}"


def _source(record: Mapping[str, Any], config: EventsConfig) -> SourceConfig:
    arn = str(record.get("eventSourceARN", ""))
    source = config.for_queue(arn)
    if source is None:
        raise ConfigError(f"no event source is configured for the queue {arn}")
    return source


def _error_text(exc: Exception) -> str:
    if isinstance(exc, InferenceError):
        return f"{int(exc.status)} {type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
    return f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]


def _log_failure(message_id: str, exc: Exception) -> None:
    if isinstance(exc, InferenceError) and exc.status < 500:
        logger.warning("message %s failed: %s", message_id, exc)
    else:
        logger.error("message %s failed: %s: %s", message_id, type(exc).__name__, exc)
