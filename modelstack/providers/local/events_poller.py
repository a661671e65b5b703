"""The local target's SQS poller: what a Lambda event source mapping does, on this machine.

It long-polls the source queue (an SQS-compatible server such as moto), gathers up to
`batch_size` messages within `max_batching_window_s`, invokes the function once per batch
with an SQS event (the Lambda flavour's Invoke API, or any `Invoke` callable), and then:

* deletes the messages that succeeded (everything but the answer's `batchItemFailures`);
* leaves the failed ones to the visibility timeout, so they are received again;
* moves a failed message that has been received `max_receive_count` times to the dead-letter
  queue, with the error as the message attribute `error` (and deletes it from the source);
* when the invocation itself failed (a function error, an unreadable answer), treats the
  whole batch as failed, as Lambda does.

Every loop is bounded: `run` stops on its event, after `max_batches`, or after `max_s`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["ERROR_ATTRIBUTE", "Invoke", "PollResult", "PollerSettings", "QueuePoller"]

ERROR_ATTRIBUTE: Final = "error"
MAX_ERROR_CHARS: Final = 1024
SQS_MAX_RECEIVE: Final = 10
SQS_MAX_WAIT_S: Final = 20

Invoke = Callable[[bytes], tuple[bytes, bool]]
"""An invocation: the event's JSON in, (the answer, True when it was a function error) out."""

logger = logging.getLogger("modelstack")


@dataclass(frozen=True)
class PollerSettings:
    queue_url: str
    queue_arn: str
    dlq_url: str
    batch_size: int = 10
    max_batching_window_s: float = 0.0
    max_receive_count: int = 3
    wait_s: int = 1
    """How long one receive long-polls for a first message (1-20 s)."""


@dataclass
class PollResult:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    dead_lettered: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: PollResult) -> None:
        self.received += other.received
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.dead_lettered += other.dead_lettered
        self.errors.extend(other.errors[: 10 - len(self.errors)])


class QueuePoller:
    """Polls one queue for one function."""

    def __init__(self, sqs: Any, settings: PollerSettings, invoke: Invoke) -> None:
        self.sqs = sqs
        self.settings = settings
        self.invoke = invoke

    def run(
        self,
        stop: threading.Event,
        *,
        max_batches: int | None = None,
        max_s: float | None = None,
    ) -> PollResult:
        """Poll until `stop` is set, `max_batches` batches were invoked or `max_s` passed."""
        total = PollResult()
        deadline = None if max_s is None else time.monotonic() + max_s
        batches = 0
        while not stop.is_set() and (max_batches is None or batches < max_batches):
            if deadline is not None and time.monotonic() >= deadline:
                break
            result = self.poll_once()
            if result.received:
                batches += 1
            total.add(result)
        return total

    def poll_once(self) -> PollResult:
        """Receive one batch (possibly empty), invoke the function once, settle the batch."""
        messages = self._gather()
        if not messages:
            return PollResult()
        failed, error = self._invoke(messages)
        result = PollResult(received=len(messages))
        done = [m for m in messages if m["MessageId"] not in failed]
        self._delete(done)
        result.succeeded = len(done)
        for message in messages:
            if message["MessageId"] in failed:
                result.failed += 1
                if self._receives(message) >= self.settings.max_receive_count:
                    self._dead_letter(message, failed[message["MessageId"]] or error)
                    result.dead_lettered += 1
        if error:
            result.errors.append(error)
        return result

    # --- receiving ---------------------------------------------------------------------------

    def _gather(self) -> list[dict[str, Any]]:
        settings = self.settings
        window_end = time.monotonic() + settings.max_batching_window_s
        batch = self._receive(min(SQS_MAX_RECEIVE, settings.batch_size), settings.wait_s)
        while batch and len(batch) < settings.batch_size:
            left = window_end - time.monotonic()
            if left <= 0 and len(batch) % SQS_MAX_RECEIVE:
                break  # no window, and the last receive was not full: invoke now
            wait = max(0, min(SQS_MAX_WAIT_S, int(left)))
            more = self._receive(min(SQS_MAX_RECEIVE, settings.batch_size - len(batch)), wait)
            if not more and left <= 0:
                break
            batch.extend(more)
        return batch

    def _receive(self, count: int, wait_s: int) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.settings.queue_url,
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    # --- invoking ----------------------------------------------------------------------------

    def _invoke(self, messages: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
        """The failed message ids (with an error when known), and the batch's error."""
        event = {"Records": [self._record(m) for m in messages]}
        everything = {m["MessageId"]: "" for m in messages}
        try:
            reply, function_error = self.invoke(json.dumps(event).encode())
        except Exception as exc:  # the function is gone or timed out: the batch failed
            return everything, f"the invocation failed: {type(exc).__name__}: {exc}"
        if function_error:
            return everything, f"function error: {_short(reply)}"
        try:
            answer = json.loads(reply)
            items = answer["batchItemFailures"]
            ids = {str(item["itemIdentifier"]) for item in items}
        except (ValueError, KeyError, TypeError):
            return everything, f"the function's answer is not a batch response: {_short(reply)}"
        known = {m["MessageId"] for m in messages}
        if not ids <= known:  # Lambda fails the whole batch for an unknown identifier
            return everything, "the function reported a message id that is not in the batch"
        errors = answer.get("errors", {}) if isinstance(answer.get("errors"), Mapping) else {}
        failed = {i: str(errors.get(i, "")) for i in ids}
        return failed, "the function reported it as failed" if failed else ""

    def _record(self, message: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": _lambda_attributes(message.get("MessageAttributes", {})),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.settings.queue_arn,
            "awsRegion": self.settings.queue_arn.split(":")[3]
            if ":" in self.settings.queue_arn
            else "",
        }

    # --- settling ----------------------------------------------------------------------------

    def _delete(self, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), SQS_MAX_RECEIVE):
            chunk = messages[start : start + SQS_MAX_RECEIVE]
            answer = self.sqs.delete_message_batch(
                QueueUrl=self.settings.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
            for failure in answer.get("Failed", []):
                logger.warning("could not delete a message: %s", failure.get("Message"))

    def _receives(self, message: Mapping[str, Any]) -> int:
        try:
            return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        except ValueError:
            return 1

    def _dead_letter(self, message: Mapping[str, Any], error: str) -> None:
        attributes = dict(message.get("MessageAttributes", {}))
        attributes[ERROR_ATTRIBUTE] = {
            "DataType": "String",
            "StringValue": error[:MAX_ERROR_CHARS] or "failed",
        }
        self.sqs.send_message(
            QueueUrl=self.settings.dlq_url,
            MessageBody=message["Body"],
            MessageAttributes=attributes,
        )
        self.sqs.delete_message(
            QueueUrl=self.settings.queue_url, ReceiptHandle=message["ReceiptHandle"]
        )


def _lambda_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """SQS's message attributes as a Lambda SQS event spells them (camelCase keys)."""
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "dataType": value.get("DataType", "String"),
        }
        for name, value in attributes.items()
    }


def _short(reply: bytes) -> str:
    return reply[:MAX_ERROR_CHARS].decode("utf-8", "replace")
