"""Writing a batch's message results at once: batched sends, or bounded concurrent writes.

A batch's results go to a results queue in sqs:SendMessageBatch calls (10 messages and at
most SEND_BATCH_BYTES each), or to a bucket as one PUT per message, at most
``MODELSTACK_EVENT_OUTPUT_CONCURRENCY`` (default 8) at a time in the process (one pool of
writer threads, kept between invocations). Each result stays keyed by its
message id, so a redelivered message rewrites the same result, and a write that fails fails
only its own message.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.events.outputs import SEND_BATCH_ENTRIES, ResultWriter

__all__ = [
    "DEFAULT_OUTPUT_CONCURRENCY",
    "MAX_OUTPUT_CONCURRENCY",
    "OUTPUT_CONCURRENCY_ENV",
    "SEND_BATCH_BYTES",
    "output_concurrency",
    "write_results",
]

OUTPUT_CONCURRENCY_ENV: Final = "MODELSTACK_EVENT_OUTPUT_CONCURRENCY"
DEFAULT_OUTPUT_CONCURRENCY: Final = 8
MAX_OUTPUT_CONCURRENCY: Final = 64
SEND_BATCH_BYTES: Final = 256 * 1024
"""What one sqs:SendMessageBatch may carry in all; a larger result is sent on its own."""
_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK: Final = threading.Lock()


def output_concurrency(environ: Mapping[str, str] | None = None) -> int:
    """Writes in flight at once, from MODELSTACK_EVENT_OUTPUT_CONCURRENCY (1-64, default 8)."""
    raw = (os.environ if environ is None else environ).get(OUTPUT_CONCURRENCY_ENV, "")
    if not raw:
        return DEFAULT_OUTPUT_CONCURRENCY
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_OUTPUT_CONCURRENCY:
        raise ConfigError(
            f"{OUTPUT_CONCURRENCY_ENV}={raw!r} must be an integer from 1 to "
            f"{MAX_OUTPUT_CONCURRENCY} (writes of one batch in flight at once)"
        )
    return value


def write_results(
    writer: ResultWriter, results: Mapping[str, Mapping[str, Any]], *, concurrency: int
) -> dict[str, Exception]:
    """Write each result under its message id; the messages whose write failed, and why."""
    if not results:
        return {}
    if writer.target.kind == "queue" and hasattr(writer.queues, "send_message_batch"):
        return _send_batches(writer, results)
    return _concurrently(writer.message_result, results, concurrency)


def _concurrently(
    write: Callable[[str, Mapping[str, Any]], None],
    results: Mapping[str, Mapping[str, Any]],
    concurrency: int,
) -> dict[str, Exception]:
    def one(message_id: str) -> Exception | None:
        try:
            write(message_id, results[message_id])
        except Exception as exc:  # this message's write only
            return exc
        return None

    if len(results) == 1 or concurrency == 1:
        outcomes = [one(message_id) for message_id in results]
    else:
        outcomes = list(_pool(concurrency).map(one, results))
    return {mid: exc for mid, exc in zip(results, outcomes, strict=True) if exc is not None}


def _pool(size: int) -> ThreadPoolExecutor:
    """One pool of `size` writer threads per process, kept between invocations (starting
    threads for every batch cost more than the writes of a small one)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(size)
        if pool is None:
            pool = _POOLS[size] = ThreadPoolExecutor(size, thread_name_prefix="event-writes")
        return pool


def _send_batches(
    writer: ResultWriter, results: Mapping[str, Mapping[str, Any]]
) -> dict[str, Exception]:
    failed: dict[str, Exception] = {}
    bodies = {mid: json.dumps(result, separators=(",", ":")) for mid, result in results.items()}
    for chunk in _chunks(bodies):
        try:
            errors = writer.send_batch(chunk)
        except Exception:  # the call as a whole: send its messages one by one
            failed.update(_concurrently(writer.message_result, {m: results[m] for m in chunk}, 1))
            continue
        for message_id, why in errors.items():
            failed[message_id] = ConfigError(f"the result was not sent: {why}")
    return failed


def _chunks(bodies: Mapping[str, str]) -> list[dict[str, str]]:
    """Up to 10 bodies per chunk, within SEND_BATCH_BYTES with their attributes."""
    chunks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    size = 0
    for message_id, body in bodies.items():
        nbytes = len(body.encode()) + len(message_id.encode()) + len("source_message_id") + 16
        if current and (len(current) == SEND_BATCH_ENTRIES or size + nbytes > SEND_BATCH_BYTES):
            chunks.append(current)
            current, size = {}, 0
        current[message_id] = body
        size += nbytes
    if current:
        chunks.append(current)
    return chunks
