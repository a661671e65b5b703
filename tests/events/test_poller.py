"""The local event source mapping: a real moto SQS, the real Lambda handler, a real model."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from modelstack.providers.local.events_poller import ERROR_ATTRIBUTE, PollerSettings, QueuePoller
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV
from modelstack_runtime.lambda_handler import LambdaAdapter

RECEIVES = 2


def queues(aws: Clients, name: str, visibility_s: int = 1) -> tuple[str, str, str]:
    """A queue and its dead-letter queue. A visibility timeout must outlast one batch's
    receive-invoke-delete, or good messages are delivered again (at least once)."""
    sqs: Any = aws.queues
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_s)})[
        "QueueUrl"
    ]
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn, dlq


def adapter_invoke(
    dataplane: DataPlane, aws: Clients, monkeypatch: pytest.MonkeyPatch, arn: str, bucket: str
) -> Any:
    import modelstack_runtime.events.clients as clients

    monkeypatch.setattr(clients, "_default", aws)
    config = {
        "report_errors": True,
        "sources": [{"name": "orders", "kind": "queue", "queue": arn,
                     "output": {"bucket": bucket, "prefix": "r/"}}],
    }  # fmt: skip
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps(config))
    handler = LambdaAdapter(dataplane)
    calls: list[int] = []

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        event = json.loads(payload)
        calls.append(len(event["Records"]))
        return json.dumps(handler(event)).encode(), False

    invoke.calls = calls  # type: ignore[attr-defined]
    return invoke


def good(i: int) -> str:
    return json.dumps({"x": [i, 0, 1]})


def send_all(aws: Clients, url: str, bodies: list[str]) -> dict[str, str]:
    sqs: Any = aws.queues
    ids: dict[str, str] = {}
    for start in range(0, len(bodies), 10):
        entries = [
            {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])
        ]
        for ok in sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]:
            ids[ok["MessageId"]] = bodies[start + int(ok["Id"])]
    return ids


def drain(aws: Clients, url: str) -> list[dict[str, Any]]:
    sqs: Any = aws.queues
    found: list[dict[str, Any]] = []
    for _ in range(50):
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        ).get("Messages", [])
        if not got:
            break
        found.extend(got)
    return found


@pytest.mark.slow
def test_two_hundred_messages_with_one_percent_poison(
    dataplane: DataPlane, aws: Clients, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, arn, dlq = queues(aws, "two-hundred", visibility_s=10)
    bodies = ["{not json" if i % 100 == 7 else good(i) for i in range(200)]
    ids = send_all(aws, url, bodies)
    invoke = adapter_invoke(dataplane, aws, monkeypatch, arn, bucket)
    settings = PollerSettings(url, arn, dlq, batch_size=20, max_batching_window_s=0.2,
                              max_receive_count=RECEIVES)  # fmt: skip
    poller = QueuePoller(aws.queues, settings, invoke)
    stop = threading.Event()
    result = poller.run(stop, max_s=60, max_batches=100)
    while result.dead_lettered < 2:  # bounded by max_s: the poison needs its receives
        more = poller.run(stop, max_s=10, max_batches=50)
        assert more.received, "nothing left to receive before every poison was dead-lettered"
        result.add(more)
    assert result.succeeded == 198  # none twice: each good message was deleted once
    assert max(invoke.calls) > 10  # batches above one receive's 10: the window gathers
    objects: Any = aws.objects
    keys = [
        o["Key"]
        for page in objects.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="r/")
        for o in page.get("Contents", [])
    ]
    good_ids = {mid for mid, body in ids.items() if not body.startswith("{not")}
    assert sorted(keys) == sorted(f"r/{mid}.json" for mid in good_ids)  # exactly one each
    dead = drain(aws, dlq)
    assert sorted(m["Body"] for m in dead) == ["{not json"] * 2
    assert all(
        "400 BadRequest" in m["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"] for m in dead
    )
    assert drain(aws, url) == []  # nothing left behind, nothing lost


def test_a_function_error_fails_the_whole_batch(aws: Clients, bucket: str) -> None:
    url, arn, dlq = queues(aws, "crashing")
    send_all(aws, url, [good(1), good(2)])
    settings = PollerSettings(url, arn, dlq, batch_size=10, max_receive_count=1)
    poller = QueuePoller(aws.queues, settings, lambda payload: (b'{"errorMessage": "boom"}', True))
    result = poller.poll_once()
    assert (result.received, result.failed, result.dead_lettered) == (2, 2, 2)
    dead = drain(aws, dlq)
    assert {m["MessageAttributes"][ERROR_ATTRIBUTE]["StringValue"] for m in dead} == {
        'function error: {"errorMessage": "boom"}'
    }


def test_failures_return_after_the_visibility_timeout(aws: Clients, bucket: str) -> None:
    url, arn, dlq = queues(aws, "flaky")
    send_all(aws, url, [good(1)])
    answers = iter(
        [b'{"batchItemFailures": [{"itemIdentifier": "%s"}]}', b'{"batchItemFailures": []}']
    )
    seen: list[str] = []

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        record = json.loads(payload)["Records"][0]
        seen.append(record["attributes"]["ApproximateReceiveCount"])
        return next(answers).replace(b"%s", record["messageId"].encode()), False

    poller = QueuePoller(
        aws.queues, PollerSettings(url, arn, dlq, max_receive_count=3, wait_s=2), invoke
    )
    first = poller.poll_once()
    assert (first.failed, first.dead_lettered) == (1, 0)
    second = poller.run(threading.Event(), max_batches=1, max_s=10)
    assert (second.succeeded, seen) == (1, ["1", "2"])
    assert drain(aws, url) == [] and drain(aws, dlq) == []


def test_a_batch_without_failures_reports_no_error(aws: Clients, bucket: str) -> None:
    url, arn, dlq = queues(aws, "all-good")
    send_all(aws, url, [good(1), good(2)])
    settings = PollerSettings(url, arn, dlq, batch_size=10)
    poller = QueuePoller(
        aws.queues, settings, lambda payload: (b'{"batchItemFailures": []}', False)
    )
    result = poller.poll_once()
    assert (result.received, result.succeeded, result.errors) == (2, 2, [])
