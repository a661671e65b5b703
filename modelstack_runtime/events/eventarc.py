"""Eventarc: a Cloud Storage ``object.v1.finalized`` CloudEvent, its object scored row by row.

Eventarc delivers a CloudEvent over HTTP in one of two modes:

* binary: the attributes in ``ce-*`` headers (``ce-specversion``, ``ce-type``, ``ce-id``,
  ``ce-source``, ``ce-subject``), the body the event's data;
* structured: ``Content-Type: application/cloudevents+json``, the attributes and ``data`` in
  one JSON object.

The data is the object's metadata (``bucket``, ``name``, ``size``, ``generation``...). The
object is read (refused by size before its body is read), parsed by the shared row readers,
scored ``rows_per_batch`` rows at a time, and its results written to the same key under the
output prefix as ``.jsonl`` (keyed by object, so a redelivery rewrites the same results).

A bad CloudEvent answers 400 naming what is wrong. A malformed or oversize object is logged and
acked (200, ``"outcome": "skipped"``): it would never succeed, so a retry only costs. A fault
(the object could not be read, the model failed) answers 5xx, and Eventarc retries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from modelstack_runtime.errors import (
    BadRequest,
    ConfigError,
    InferenceError,
    InternalError,
    ModelNotFound,
    ModelNotReady,
)
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV, EventsConfig, SourceConfig
from modelstack_runtime.events.gcp_clients import GcpClients, gcp_clients
from modelstack_runtime.events.outputs import ResultWriter
from modelstack_runtime.events.rows import RowLimits, read_rows
from modelstack_runtime.json_limits import check_json_limits

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane

__all__ = ["FINALIZED", "StorageObject", "eventarc_action", "parse_cloud_event"]

FINALIZED: Final = "google.cloud.storage.object.v1.finalized"
STRUCTURED: Final = "application/cloudevents+json"
MAX_EVENT_BYTES: Final = 64 * 1024
"""An object's metadata event is a few kilobytes; anything larger is not one."""
_MAX_NAME_BYTES: Final = 1024
_MAX_ID: Final = 256
_Reply = tuple[HTTPStatus, bytes, dict[str, str]]

logger = logging.getLogger("modelstack_runtime")


@dataclass(frozen=True)
class StorageObject:
    """The object a finalized event names."""

    event_id: str
    bucket: str
    name: str
    size: int | None = None
    generation: str | None = None


def parse_cloud_event(headers: Mapping[str, str], body: bytes) -> StorageObject:
    """The object of a finalized CloudEvent; ``headers`` have lower-cased names."""
    if len(body) > MAX_EVENT_BYTES:
        raise BadRequest(f"the CloudEvent is {len(body)} bytes; at most {MAX_EVENT_BYTES}")
    media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == STRUCTURED:
        event = _json(body, "structured CloudEvent")
        if not isinstance(event, dict):
            raise BadRequest("a structured CloudEvent must be a JSON object")
        attributes = {k: event.get(k) for k in ("specversion", "type", "id")}
        data = event.get("data")
    else:
        if "ce-type" not in headers:
            raise BadRequest(
                "not a CloudEvent: send ce-specversion, ce-type and ce-id headers (binary "
                f"mode) or Content-Type {STRUCTURED} (structured mode)"
            )
        attributes = {k: headers.get(f"ce-{k}") for k in ("specversion", "type", "id")}
        data = _json(body, "CloudEvent data")
    return _storage_object(attributes, data)


def _json(body: bytes, what: str) -> Any:
    check_json_limits(body, 4096, what)
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the {what} is not valid JSON: {exc}") from None


def _storage_object(attributes: Mapping[str, Any], data: Any) -> StorageObject:
    if attributes["specversion"] != "1.0":
        raise BadRequest(f"CloudEvent specversion must be '1.0', got {attributes['specversion']!r}")
    if attributes["type"] != FINALIZED:
        raise BadRequest(f"CloudEvent type must be {FINALIZED!r}, got {attributes['type']!r}")
    event_id = attributes["id"]
    if not isinstance(event_id, str) or not 0 < len(event_id) <= _MAX_ID:
        raise BadRequest(f"CloudEvent id must be a string of 1-{_MAX_ID} characters")
    if not isinstance(data, dict):
        raise BadRequest("the CloudEvent data must be the object's metadata (a JSON object)")
    bucket, name = data.get("bucket"), data.get("name")
    if not isinstance(bucket, str) or not 3 <= len(bucket) <= 222:
        raise BadRequest(f"data.bucket must be a bucket name, got {bucket!r:.80}")
    if not isinstance(name, str) or not 0 < len(name.encode()) <= _MAX_NAME_BYTES:
        raise BadRequest(f"data.name must be an object name of 1-{_MAX_NAME_BYTES} bytes")
    size = data.get("size")
    if size is not None:
        if not isinstance(size, str | int) or not str(size).isdigit():
            raise BadRequest(f"data.size must be a byte count, got {size!r:.40}")
        size = int(size)
    generation = data.get("generation")
    return StorageObject(
        event_id, bucket, name, size, None if generation is None else str(generation)
    )


def answer_event(
    dp: DataPlane,
    source_name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    config: EventsConfig,
    clients: GcpClients,
) -> _Reply:
    """Score the object a finalized event names; the reply Eventarc acks or retries."""
    source = _bucket_source(config, source_name)
    obj = parse_cloud_event(headers, body)
    if obj.bucket != source.bucket or not obj.name.startswith(source.prefix):
        return _reply(obj, "ignored", f"not under gs://{source.bucket}/{source.prefix}")
    limits = RowLimits(
        max_object_bytes=min(RowLimits.from_env().max_object_bytes, source.max_object_bytes),
        max_rows=RowLimits.from_env().max_rows,
    )
    from modelstack_runtime.events.s3 import read_object, score_rows_jsonl  # loads onnxruntime

    model = dp.model
    if model is None:
        raise ModelNotReady("the model is loading; Eventarc retries the event")
    if clients.objects is None:
        raise InternalError("bucket events need an object client (none is configured)")
    try:
        data = read_object(clients.objects, obj.bucket, obj.name, limits=limits)
        columns = read_rows(data, key=obj.name, signature=model.signature, limits=limits)
        body, rows = score_rows_jsonl(
            dp, columns, rows_per_batch=source.rows_per_batch, key=obj.name
        )
    except InferenceError as exc:
        if exc.status >= 500:
            raise
        logger.warning("object gs://%s/%s skipped: %s", obj.bucket, obj.name, exc)
        return _reply(obj, "skipped", exc.message)
    except (OSError, ConfigError) as exc:
        raise InternalError(f"gs://{obj.bucket}/{obj.name} could not be read: {exc}") from exc
    writer = ResultWriter(source.output, objects=clients.objects)
    try:
        output, _ = writer.object_body(obj.name, source.prefix, body)
    except (OSError, ConfigError) as exc:
        raise InternalError(f"the results of gs://{obj.bucket}/{obj.name}: {exc}") from exc
    return _reply(obj, "scored", output, rows=rows)


def _bucket_source(config: EventsConfig, name: str) -> SourceConfig:
    for source in config.sources:
        if source.name == name and source.kind == "bucket":
            return source
    known = [s.name for s in config.sources if s.kind == "bucket"] or "none"
    raise ModelNotFound(
        f"no bucket event source {name!r} here (configured in {EVENTS_CONFIG_ENV}: {known})"
    )


def _reply(obj: StorageObject, outcome: str, detail: str, **extra: Any) -> _Reply:
    body = {"event_id": obj.event_id, "object": obj.name, "outcome": outcome, "detail": detail}
    return (
        HTTPStatus.OK,
        json.dumps({**body, **extra}).encode(),
        {"Content-Type": "application/json"},
    )


def eventarc_action(
    dp: DataPlane, params: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> _Reply:
    """``POST /_events/eventarc/<source>``: one CloudEvent."""
    try:
        config = EventsConfig.from_env()
    except ConfigError as exc:
        raise InternalError(str(exc)) from None
    return answer_event(dp, params["source"], headers, body, config=config, clients=gcp_clients())
