"""The S3 adapter: each new object's rows scored in batches, results written beside them.

For each notification record the object (bounded by ``max_object_bytes`` before any byte is
read) is parsed by `rows`, scored ``rows_per_batch`` rows at a time, and its results (one
v2-style result per row, in order, ``id`` = ``<key>#<row>``) written to the same key under
the output prefix as ``.jsonl``. A malformed or oversize object is reported (logged, and
listed under ``skipped``) and skipped; the other objects go on. When an object failed for any
other reason (the bucket could not be read, the model failed), the invocation raises after
all objects were tried, so the event is retried; outputs are keyed by object, so the retry
rewrites the same results.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import unquote_plus

import numpy as np

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import ConfigError, InferenceError, InternalError, ModelNotReady
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EventsConfig, SourceConfig
from modelstack_runtime.events.outputs import ResultWriter
from modelstack_runtime.events.row_results import encode_rows
from modelstack_runtime.events.rows import (
    RowLimits,
    batches,
    check_object_size,
    read_rows,
)
from modelstack_runtime.model import Model
from modelstack_runtime.tensors import json_entry
from modelstack_runtime.validation import check_finite, validate_inputs

__all__ = [
    "handle_s3_event",
    "read_object",
    "score_all",
    "score_rows",
    "score_rows_jsonl",
]

logger = logging.getLogger("modelstack_runtime")


def handle_s3_event(
    dataplane: DataPlane, event: Mapping[str, Any], *, config: EventsConfig, clients: Clients
) -> dict[str, Any]:
    """Score every object the records name; raise only after all were tried."""
    found = [(bucket, key, config.for_object(bucket, key)) for bucket, key in _objects(event)]
    return score_all(dataplane, found, clients=clients)


def score_all(
    dataplane: DataPlane,
    found: list[tuple[str, str, SourceConfig | None]],
    *,
    clients: Clients,
) -> dict[str, Any]:
    done: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    faults: list[str] = []
    for bucket, key, source in found:
        try:
            done.append(_score_object(dataplane, bucket, key, source=source, clients=clients))
        except InferenceError as exc:
            if exc.status >= 500:
                faults.append(f"{key}: {exc}")
                continue
            logger.warning("object s3://%s/%s skipped: %s", bucket, key, exc)
            skipped.append({"bucket": bucket, "key": key, "error": str(exc)})
        except Exception as exc:  # the bucket or the output failed: retry the event
            logger.error("object s3://%s/%s failed: %s: %s", bucket, key, type(exc).__name__, exc)
            faults.append(f"{key}: {type(exc).__name__}: {exc}")
    if faults:
        raise InternalError(f"{len(faults)} object(s) failed and will be retried: {faults[0]}")
    return {"objects": done, "skipped": skipped}


def read_object(objects: Any, bucket: str, key: str, *, limits: RowLimits) -> bytes:
    """The object's bytes, refused by size before its body is read."""
    response = objects.get_object(Bucket=bucket, Key=key)
    body = response["Body"]
    try:  # closed also when refused unread, so its connection does not wait for the collector
        check_object_size(int(response.get("ContentLength", 0)), key=key, limits=limits)
        data = bytes(body.read(limits.max_object_bytes + 1))
    finally:
        body.close()
    check_object_size(len(data), key=key, limits=limits)
    return data


def score_rows(
    dataplane: DataPlane, columns: Mapping[str, np.ndarray], *, rows_per_batch: int, key: str
) -> Iterator[dict[str, Any]]:
    """One v2-style result per row, in order, scoring `rows_per_batch` rows per model call."""
    model = _model(dataplane)
    row = 0
    for outputs in _scored_batches(dataplane, columns, rows_per_batch):
        count = next(iter(outputs.values())).shape[0] if outputs else 0
        for i in range(count):
            yield _row_result(model, f"{key}#{row}", {n: a[i : i + 1] for n, a in outputs.items()})
            row += 1


def score_rows_jsonl(
    dataplane: DataPlane, columns: Mapping[str, np.ndarray], *, rows_per_batch: int, key: str
) -> tuple[bytes, int]:
    """The `.jsonl` results of every row (the lines `score_rows` gives), and the row count."""
    model = _model(dataplane)
    parts: list[bytes] = []
    row = 0
    for outputs in _scored_batches(dataplane, columns, rows_per_batch):
        parts.append(encode_rows(model.name, model.version, key, row, outputs))
        row += next(iter(outputs.values())).shape[0] if outputs else 0
    return b"".join(parts), row


def _scored_batches(
    dataplane: DataPlane, columns: Mapping[str, np.ndarray], rows_per_batch: int
) -> Iterator[dict[str, np.ndarray]]:
    model = _model(dataplane)
    for batch in batches(columns, rows_per_batch):
        validate_inputs(model.signature, batch)
        if not dataplane.config.allow_non_finite:
            for name, array in batch.items():
                check_finite(name, array)
        outputs = model.infer(batch)
        rows = next(iter(batch.values())).shape[0]
        if any(array.ndim == 0 or array.shape[0] != rows for array in outputs.values()):
            raise InternalError(
                f"the model's outputs do not keep one row per input row ({rows} rows in)"
            )
        yield outputs


def _score_object(
    dataplane: DataPlane, bucket: str, key: str, *, source: SourceConfig | None, clients: Clients
) -> dict[str, Any]:
    if source is None:
        raise ConfigError(f"no event source is configured for s3://{bucket}/{key}")
    if clients.objects is None:
        raise ConfigError("bucket events need an S3 client")
    limits = _limits(source)
    data = read_object(clients.objects, bucket, key, limits=limits)
    model = _model(dataplane)
    columns = read_rows(data, key=key, signature=model.signature, limits=limits)
    body, rows = score_rows_jsonl(dataplane, columns, rows_per_batch=source.rows_per_batch, key=key)
    writer = ResultWriter(source.output, objects=clients.objects, queues=clients.queues)
    output, written = writer.object_body(key, source.prefix, body)
    return {"bucket": bucket, "key": key, "output": output, "rows": rows, "written": written}


def _limits(source: SourceConfig) -> RowLimits:
    env = RowLimits.from_env()
    return RowLimits(
        max_object_bytes=min(env.max_object_bytes, source.max_object_bytes),
        max_rows=env.max_rows,
    )


def _model(dataplane: DataPlane) -> Model:
    model = dataplane.model
    if model is None:
        raise ModelNotReady("the model is not loaded yet")
    return model


def _row_result(model: Model, row_id: str, outputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    return {
        "model_name": model.name,
        "model_version": model.version,
        "id": row_id,
        "outputs": [json_entry(name, array) for name, array in outputs.items()],
    }


def _objects(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for record in event.get("Records", []):
        try:
            bucket = str(record["s3"]["bucket"]["name"])
            key = unquote_plus(str(record["s3"]["object"]["key"]))
        except (KeyError, TypeError):
            logger.warning("an S3 record without s3.bucket.name and s3.object.key was skipped")
            continue
        yield bucket, key
