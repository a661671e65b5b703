"""Idempotent result writes: a redelivered message or object rewrites the same result.

Results are keyed by the id of what was scored, never by time or a counter:

* a queue message's result goes under a bucket output as `<prefix><message id>.json`, or to a
  results queue with the message attribute `source_message_id` (and, on a FIFO queue, the
  message id as the deduplication id);
* a bucket object's results (one v2-style result per row, in order) go to the same key under
  the output prefix, with the `.jsonl` suffix.

Writers are protocols that the clouds' clients satisfy (boto3's S3 and SQS clients; the GCP
adapters bring their own), so the runtime imports no cloud SDK itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol
from urllib.parse import quote

from modelstack_runtime.errors import ConfigError

__all__ = [
    "SEND_BATCH_ENTRIES",
    "ObjectWriter",
    "OutputTarget",
    "QueueWriter",
    "ResultWriter",
    "jsonl_body",
    "object_output_key",
    "result_key",
]

_SUFFIXES = (".npz", ".jsonl", ".csv")
SEND_BATCH_ENTRIES: Final = 10
"""sqs:SendMessageBatch takes at most 10 messages."""
_QUEUE_URLS: dict[str, str] = {}
"""Results queues' URLs by name, looked up once per process."""


class ObjectWriter(Protocol):
    """What writing an object needs (boto3's S3 client has this method)."""

    def put_object(self, *, Bucket: str, Key: str, Body: bytes, ContentType: str) -> Any: ...


class QueueWriter(Protocol):
    """What sending a message needs (boto3's SQS client has this method)."""

    def send_message(self, **kwargs: Any) -> Any: ...

    def get_queue_url(self, *, QueueName: str) -> Any: ...


@dataclass(frozen=True)
class OutputTarget:
    """Where one event source's results go (from the runtime's events configuration)."""

    kind: Literal["queue", "bucket"]
    queue_url: str = ""
    queue_name: str = ""
    """A queue named, not addressed: its URL is looked up once (sqs:GetQueueUrl)."""
    bucket: str = ""
    prefix: str = ""
    fifo: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutputTarget:
        if "queue_url" in d:
            url = str(d["queue_url"])
            return cls(kind="queue", queue_url=url, fifo=url.endswith(".fifo"))
        if "queue" in d:
            name = str(d["queue"])
            return cls(kind="queue", queue_name=name, fifo=name.endswith(".fifo"))
        return cls(kind="bucket", bucket=str(d["bucket"]), prefix=str(d.get("prefix", "")))


def result_key(prefix: str, message_id: str) -> str:
    """`<prefix><message id>.json`; the id is percent-encoded, so distinct ids never collide."""
    return f"{prefix}{quote(message_id, safe='-_.')}.json"


def object_output_key(source_key: str, *, source_prefix: str, output_prefix: str) -> str:
    """The same key under the output prefix, with the `.jsonl` suffix."""
    relative = source_key.removeprefix(source_prefix)
    for suffix in _SUFFIXES:
        if relative.endswith(suffix):
            relative = relative.removesuffix(suffix)
            break
    return f"{output_prefix}{relative}.jsonl"


def jsonl_body(results: Iterable[Mapping[str, Any]]) -> bytes:
    """One compact JSON document per line, in order."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in results)


@dataclass(frozen=True)
class ResultWriter:
    """Writes results to one output target through the cloud's clients."""

    target: OutputTarget
    objects: ObjectWriter | None = None
    queues: QueueWriter | None = None

    def message_result(self, message_id: str, result: Mapping[str, Any]) -> None:
        """The result of one message, keyed by its id."""
        body = json.dumps(result, separators=(",", ":"))
        if self.target.kind == "bucket":
            self._put(result_key(self.target.prefix, message_id), body.encode(), "application/json")
            return
        if self.queues is None:
            raise ConfigError("a queue output needs a queue client")
        self.queues.send_message(QueueUrl=self._queue_url(), **self._entry(message_id, body))

    def send_batch(self, bodies: Mapping[str, str]) -> dict[str, str]:
        """At most 10 results (JSON text by message id) in one sqs:SendMessageBatch; the ids
        whose send failed, and why."""
        if len(bodies) > SEND_BATCH_ENTRIES:
            raise ValueError(f"a batch holds at most {SEND_BATCH_ENTRIES} messages")
        ids = list(bodies)
        entries = [
            {"Id": str(index), **self._entry(mid, bodies[mid])} for index, mid in enumerate(ids)
        ]
        queues: Any = self.queues
        answer = queues.send_message_batch(QueueUrl=self._queue_url(), Entries=entries)
        failed: dict[str, str] = {}
        for failure in answer.get("Failed", []):
            failed[ids[int(failure["Id"])]] = f"{failure.get('Code')}: {failure.get('Message')}"
        sent = {str(item["Id"]) for item in answer.get("Successful", [])}
        for index, mid in enumerate(ids):
            if str(index) not in sent and mid not in failed:
                failed[mid] = "the batch send did not report this message"
        return failed

    def _entry(self, message_id: str, body: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "MessageBody": body,
            "MessageAttributes": {
                "source_message_id": {"DataType": "String", "StringValue": message_id}
            },
        }
        if self.target.fifo:
            entry.update(MessageGroupId="results", MessageDeduplicationId=message_id[:128])
        return entry

    def object_results(
        self, source_key: str, source_prefix: str, results: Iterable[Mapping[str, Any]]
    ) -> str:
        """The results of one object, one line per row; returns the key written."""
        return self.object_body(source_key, source_prefix, jsonl_body(results))[0]

    def object_body(self, source_key: str, source_prefix: str, body: bytes) -> tuple[str, bool]:
        """An object's `.jsonl` results, already encoded; the key, and False when a
        create-only store kept the results already there."""
        if self.target.kind != "bucket":
            raise ConfigError("the results of an object go to a bucket output, not a queue")
        key = object_output_key(
            source_key, source_prefix=source_prefix, output_prefix=self.target.prefix
        )
        return key, self._put(key, body, "application/x-ndjson")

    def _queue_url(self) -> str:
        if self.target.queue_url:
            return self.target.queue_url
        name = self.target.queue_name
        if name not in _QUEUE_URLS:
            assert self.queues is not None
            _QUEUE_URLS[name] = str(self.queues.get_queue_url(QueueName=name)["QueueUrl"])
        return _QUEUE_URLS[name]

    def _put(self, key: str, body: bytes, content_type: str) -> bool:
        if self.objects is None:
            raise ConfigError("a bucket output needs an object client")
        answer = self.objects.put_object(
            Bucket=self.target.bucket, Key=key, Body=body, ContentType=content_type
        )
        return answer is not False  # the GCP clients create only, and say when they did not
