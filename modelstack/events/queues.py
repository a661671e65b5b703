"""An event source's queues as the `events` command sees them: depth, sending, redriving.

The same boto3 calls reach AWS (an aws-lambda target, in its region) and the local target's
SQS-compatible server (MODELSTACK_EVENTS_ENDPOINT, default http://127.0.0.1:5002, where
scripts/docker-services starts moto).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelstack.errors import InfrastructureError, UsageError
from modelstack.events.names import dlq_name, queue_name
from modelstack.events.spec import EventSource

__all__ = [
    "ENDPOINT_ENV",
    "LOCAL_ENDPOINT",
    "MAX_SEND_LINES",
    "QueueCounts",
    "Queues",
    "read_messages",
]

ENDPOINT_ENV: Final = "MODELSTACK_EVENTS_ENDPOINT"
LOCAL_ENDPOINT: Final = "http://127.0.0.1:5002"
LOCAL_REGION: Final = "us-east-1"
MAX_SEND_LINES: Final = 10_000
MAX_MESSAGE_BYTES: Final = 256 * 1024
"""SQS's limit for one message body."""
MAX_REDRIVE: Final = 10_000


@dataclass(frozen=True)
class QueueCounts:
    source: str
    queue: str
    depth: int
    in_flight: int
    dead_lettered: int


def read_messages(path: Path) -> list[str]:
    """The lines of a .jsonl file, each a JSON object, bounded in count and size."""
    if path.suffix != ".jsonl" or not path.is_file():
        raise UsageError(f"{path}: --send takes an existing .jsonl file (one request per line)")
    if path.stat().st_size > MAX_SEND_LINES * MAX_MESSAGE_BYTES:
        raise UsageError(f"{path} is larger than {MAX_SEND_LINES} messages of 256 KiB")
    bodies: list[str] = []
    with path.open(encoding="utf-8", errors="strict") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if len(bodies) >= MAX_SEND_LINES:
                raise UsageError(f"{path} has more than {MAX_SEND_LINES} messages; split it")
            if len(line.encode()) > MAX_MESSAGE_BYTES:
                raise UsageError(f"{path}:{number}: a message is larger than SQS's 256 KiB")
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not a JSON object ({exc})") from None
            bodies.append(line.strip())
    return bodies


class Queues:
    """The queues of one target's event sources."""

    def __init__(self, base: str, *, local: bool, region: str | None) -> None:
        try:
            import boto3
        except ImportError:
            from modelstack.errors import MissingDependencyError

            raise MissingDependencyError("the events command", "aws") from None
        self.base = base
        self.local = local
        kwargs: dict[str, Any] = {"region_name": region or LOCAL_REGION}
        if local:
            kwargs["endpoint_url"] = os.environ.get(ENDPOINT_ENV, LOCAL_ENDPOINT)
            kwargs.setdefault("aws_access_key_id", os.environ.get("AWS_ACCESS_KEY_ID", "local"))
            kwargs["aws_secret_access_key"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "local")
        self.sqs = boto3.client("sqs", **kwargs)
        self.s3 = boto3.client("s3", **kwargs)

    def url(self, name: str) -> str:
        try:
            return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except Exception as exc:
            raise InfrastructureError(
                f"queue {name} is not reachable ({type(exc).__name__}: {exc}); deploy the "
                "target first (`modelstack up`), or start the local services"
            ) from None

    def ensure(self, source: EventSource) -> str:
        """The local target creates its queues on first use: the DLQ, then the queue."""
        assert source.queue is not None
        fifo = {"FifoQueue": "true"} if source.queue.fifo else {}
        dlq = self.sqs.create_queue(QueueName=dlq_name(self.base, source), Attributes=fifo)
        arn = self.sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
            "maxReceiveCount": source.queue.max_receive_count,
        }
        queue = self.sqs.create_queue(
            QueueName=queue_name(self.base, source),
            Attributes={**fifo, "RedrivePolicy": json.dumps(redrive)},
        )
        return str(queue["QueueUrl"])

    def counts(self, source: EventSource) -> QueueCounts:
        name = queue_name(self.base, source)
        main = self._attributes(self.url(name))
        dead = self._attributes(self.url(dlq_name(self.base, source)))
        return QueueCounts(
            source=source.name,
            queue=name,
            depth=int(main.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(main.get("ApproximateNumberOfMessagesNotVisible", 0)),
            dead_lettered=int(dead.get("ApproximateNumberOfMessages", 0)),
        )

    def send(self, source: EventSource, bodies: list[str]) -> int:
        url = self.ensure(source) if self.local else self.url(queue_name(self.base, source))
        fifo = source.queue is not None and source.queue.fifo
        sent = 0
        for start in range(0, len(bodies), 10):
            entries = [
                {"Id": str(i), "MessageBody": body, **({"MessageGroupId": "send"} if fifo else {})}
                for i, body in enumerate(bodies[start : start + 10])
            ]
            answer = self.sqs.send_message_batch(QueueUrl=url, Entries=entries)
            sent += len(answer.get("Successful", []))
        return sent

    def put_object(self, source: EventSource, path: Path) -> str:
        """Upload `path` under the bucket source's prefix; the key is returned."""
        assert source.bucket is not None
        spec = source.bucket
        if not path.name.endswith(spec.suffix):
            raise UsageError(f"{path}: source {source.name} reads *{spec.suffix} objects")
        if path.stat().st_size > spec.max_object_bytes:
            raise UsageError(f"{path} is larger than max_object_bytes ({spec.max_object_bytes})")
        if self.local:
            self.s3.create_bucket(Bucket=spec.bucket)
        key = f"{spec.prefix}{path.name}"
        self.s3.put_object(Bucket=spec.bucket, Key=key, Body=path.read_bytes())
        return key

    def redrive(self, source: EventSource) -> int:
        """Move the dead-lettered messages back to the queue (without their error)."""
        url = self.url(queue_name(self.base, source))
        dlq = self.url(dlq_name(self.base, source))
        moved = 0
        while moved < MAX_REDRIVE:
            got = self.sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                break
            for message in messages:
                self.sqs.send_message(QueueUrl=url, MessageBody=message["Body"])
                self.sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return moved

    def tail(self, source: EventSource, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` results: the newest objects under a bucket output, or messages of a
        results queue seen without taking them (they become visible again at once)."""
        output = source.output
        if output.bucket is not None:
            page = self.s3.list_objects_v2(Bucket=output.bucket, Prefix=output.prefix, MaxKeys=1000)
            objects = sorted(page.get("Contents", []), key=lambda o: o["LastModified"])[-limit:]
            return [{"key": o["Key"], "bytes": o["Size"]} for o in objects]
        assert output.queue is not None
        url = self.url(output.queue)
        got = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(10, limit),
            MessageAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        return [
            {
                "source_message_id": m.get("MessageAttributes", {})
                .get("source_message_id", {})
                .get("StringValue"),
                "body": m["Body"],
            }
            for m in got.get("Messages", [])
        ]

    def _attributes(self, url: str) -> dict[str, str]:
        answer = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return dict(answer.get("Attributes", {}))
