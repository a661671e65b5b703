"""The SQS batch adapter: every message scored on its own, only the failures reported.

A message body is a v2 inference request (JSON) or a record ``{"input_name": value, ...}``
(one row per input). The answer is ``{"batchItemFailures": [{"itemIdentifier": id}, ...]}``
(the event source mapping's ReportBatchItemFailures): the messages named go back to the queue
and, after maxReceiveCount receives, to the dead-letter queue; all others are deleted. A bad
message (4xx) fails alone; a fault of the model (5xx) fails its message too and is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import (
    BadRequest,
    ConfigError,
    InferenceError,
    ModelNotReady,
    PayloadTooLarge,
)
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EventsConfig, SourceConfig
from modelstack_runtime.events.outputs import ResultWriter
from modelstack_runtime.signature import Signature

__all__ = ["MAX_MESSAGE_BYTES", "handle_sqs_batch", "request_of", "score_message"]

MAX_MESSAGE_BYTES: Final = 1024 * 1024
"""SQS carries at most 1 MiB per message; anything larger is not a message from it."""
MAX_ERROR_CHARS: Final = 1024

logger = logging.getLogger("modelstack_runtime")


def handle_sqs_batch(
    dataplane: DataPlane, event: Mapping[str, Any], *, config: EventsConfig, clients: Clients
) -> dict[str, Any]:
    """Score each record; answer the ids of the records that failed."""
    failures: list[dict[str, str]] = []
    errors: dict[str, str] = {}
    for index, record in enumerate(event.get("Records", [])):
        message_id = _message_id(record, index)
        try:
            source = _source(record, config)
            result = score_message(dataplane, record.get("body"), message_id=message_id)
            writer = ResultWriter(source.output, objects=clients.objects, queues=clients.queues)
            writer.message_result(message_id, result)
        except Exception as exc:  # one message fails alone, whatever went wrong
            _log_failure(message_id, exc)
            failures.append({"itemIdentifier": message_id})
            errors[message_id] = _error_text(exc)
    if config.report_errors:
        return {"batchItemFailures": failures, "errors": errors}
    return {"batchItemFailures": failures}


def score_message(dataplane: DataPlane, body: Any, *, message_id: str) -> dict[str, Any]:
    """The v2 response to one message body (raises InferenceError for a bad one)."""
    if not isinstance(body, str):
        raise BadRequest(f"message {message_id} has no text body")
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"message {message_id} is above {MAX_MESSAGE_BYTES} bytes")
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise BadRequest(f"message {message_id} is not JSON: {exc}") from None
    model = dataplane.model
    if model is None:
        raise ModelNotReady("the model is not loaded yet")
    request = request_of(parsed, message_id=message_id, signature=model.signature)
    name = dataplane.config.model_name
    return dataplane.infer_object(name, request, request_id=message_id, nbytes=len(body))


def request_of(parsed: Any, *, message_id: str, signature: Signature) -> dict[str, Any]:
    """A v2 request as it is, or a record turned into one (each value is one row)."""
    if not isinstance(parsed, dict):
        raise BadRequest(f"message {message_id} must be a JSON object")
    if "inputs" in parsed:
        return {"id": message_id, **parsed}
    from modelstack_runtime.events.records import record_request

    return record_request(parsed, message_id=message_id, signature=signature)


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
