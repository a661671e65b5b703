"""An SQS batch costs close to one invocation: stacked model calls, results written at once,
and still only the failed messages reported (real moto server, real onnxruntime model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from event_model import expected
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import ConfigError, InternalError
from modelstack_runtime.events import handle_batch_event
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EventsConfig
from modelstack_runtime.events.outputs import SEND_BATCH_ENTRIES
from modelstack_runtime.events.writes import (
    DEFAULT_OUTPUT_CONCURRENCY,
    MAX_OUTPUT_CONCURRENCY,
    OUTPUT_CONCURRENCY_ENV,
    SEND_BATCH_BYTES,
    _chunks,
    output_concurrency,
)

ARN = "arn:aws:sqs:us-east-1:123456789012:stacked"


def event(*bodies: tuple[str, str]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": mid, "body": body, "eventSource": "aws:sqs", "eventSourceARN": ARN}
            for mid, body in bodies
        ]
    }


def config(output: dict[str, str]) -> EventsConfig:
    return EventsConfig.from_dict(
        {"sources": [{"name": "stacked", "kind": "queue", "queue": ARN, "output": output}]}
    )


def v2(rows: list[list[float]]) -> str:
    flat = [v for row in rows for v in row]
    shape = [len(rows), 3]
    return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": shape, "data": flat}]})


@pytest.fixture
def model_calls(dataplane: DataPlane, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The rows of each model call; a row holding 666 is one the model refuses."""
    model = dataplane.model
    assert model is not None
    real = model.infer
    calls: list[int] = []

    def infer(inputs: dict[str, np.ndarray], names: Any = None) -> dict[str, np.ndarray]:
        calls.append(int(inputs["x"].shape[0]))
        if (inputs["x"] == 666).any():
            raise InternalError("inference failed: the model refuses 666")
        return real(inputs, names)

    monkeypatch.setattr(model, "infer", infer)
    yield calls


def read_json(aws: Clients, bucket: str, key: str) -> Any:
    objects: Any = aws.objects
    return json.loads(objects.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_batch_is_one_model_call_with_each_result_keyed_by_its_message(
    dataplane: DataPlane, aws: Clients, bucket: str, model_calls: list[int]
) -> None:
    rows = {f"m-{i}": [[float(i), 1.0, 2.0]] * (1 + i % 3) for i in range(10)}
    bodies = [(mid, v2(r)) for mid, r in rows.items()]
    bodies.insert(3, ("record", json.dumps({"x": [4, 5, 6]})))  # a record stacks too
    cfg = config({"bucket": bucket, "prefix": "out/"})
    answer = handle_batch_event(dataplane, event(*bodies), config=cfg, clients=aws)
    assert answer == {"batchItemFailures": []}
    assert model_calls == [sum(len(r) for r in rows.values()) + 1]
    for mid, r in rows.items():
        result = read_json(aws, bucket, f"out/{mid}.json")
        assert result["id"] == mid
        assert result["outputs"][0]["shape"] == [len(r), 2]
        assert result["outputs"][0]["data"] == expected(r)
    assert read_json(aws, bucket, "out/record.json")["outputs"][0]["data"] == expected([[4, 5, 6]])


def test_what_cannot_stack_runs_in_its_own_call(
    dataplane: DataPlane, aws: Clients, bucket: str, model_calls: list[int]
) -> None:
    fp64 = json.dumps({"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 3],
                                   "data": [1, 2, 3]}]})  # fmt: skip
    bodies = [("a", v2([[1, 2, 3]])), ("b", v2([[1, 1, 1]])), ("c", fp64)]
    cfg = config({"bucket": bucket, "prefix": "out/"})
    answer = handle_batch_event(dataplane, event(*bodies), config=cfg, clients=aws)
    assert answer["batchItemFailures"] == [{"itemIdentifier": "c"}]  # the model takes FP32
    assert model_calls == [2]


def test_a_message_the_model_refuses_fails_alone_after_a_stacked_call_failed(
    dataplane: DataPlane, aws: Clients, bucket: str, model_calls: list[int]
) -> None:
    bodies = [("a", v2([[1, 2, 3]])), ("poison", v2([[666, 0, 0]])), ("c", v2([[0, 0, 1]]))]
    cfg = config({"bucket": bucket, "prefix": "out/"})
    answer = handle_batch_event(dataplane, event(*bodies), config=cfg, clients=aws)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "poison"}]}
    assert model_calls == [3, 1, 1, 1]  # the stacked call, then each on its own
    assert read_json(aws, bucket, "out/c.json")["outputs"][0]["data"] == expected([[0, 0, 1]])


class FakeS3RefusingOneKey:
    """The real S3 client, except that writing one key fails (as a denied PUT would)."""

    def __init__(self, objects: Any, refused: str) -> None:
        self.objects, self.refused = objects, refused

    def put_object(self, **kwargs: Any) -> Any:
        if kwargs["Key"] == self.refused:
            raise OSError("access denied")
        return self.objects.put_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.objects, name)


def test_a_write_that_fails_marks_only_its_message(
    dataplane: DataPlane, aws: Clients, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(OUTPUT_CONCURRENCY_ENV, "3")
    refusing = Clients(objects=FakeS3RefusingOneKey(aws.objects, "out/m-4.json"), queues=aws.queues)
    bodies = [(f"m-{i}", v2([[i, 0, 0]])) for i in range(8)]
    cfg = EventsConfig.from_dict({**_raw(bucket), "report_errors": True})
    answer = handle_batch_event(dataplane, event(*bodies), config=cfg, clients=refusing)
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m-4"}]
    assert "access denied" in answer["errors"]["m-4"]
    objects: Any = aws.objects
    keys = sorted(o["Key"] for o in objects.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"out/m-{i}.json" for i in range(8) if i != 4]


def _raw(bucket: str) -> dict[str, Any]:
    output = {"bucket": bucket, "prefix": "out/"}
    return {"sources": [{"name": "stacked", "kind": "queue", "queue": ARN, "output": output}]}


def test_a_results_queue_gets_the_batch_in_send_message_batch_calls(
    dataplane: DataPlane, aws: Clients
) -> None:
    sqs: Any = aws.queues
    url = sqs.create_queue(QueueName="stacked-results")["QueueUrl"]
    calls: list[str] = []
    for operation in ("SendMessage", "SendMessageBatch"):
        sqs.meta.events.register(
            f"before-call.sqs.{operation}", lambda op=operation, **_: calls.append(op)
        )
    bodies = [(f"m-{i}", v2([[i, 1, 1]])) for i in range(12)]
    answer = handle_batch_event(
        dataplane, event(*bodies), config=config({"queue_url": url}), clients=aws
    )
    assert answer == {"batchItemFailures": []}
    assert calls == ["SendMessageBatch", "SendMessageBatch"]  # 10 + 2
    got: dict[str, Any] = {}
    while len(got) < 12:
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        for message in reply.get("Messages", []):
            got[message["MessageAttributes"]["source_message_id"]["StringValue"]] = message
    for i in range(12):
        result = json.loads(got[f"m-{i}"]["Body"])
        assert result["id"] == f"m-{i}"
        assert result["outputs"][0]["data"] == expected([[i, 1, 1]])


class FakeSqsFailingOneEntry:
    """The real SQS client, except that SendMessageBatch reports one entry as failed (as SQS
    does for an entry it refuses) and does not send it."""

    def __init__(self, sqs: Any, refused: str) -> None:
        self.sqs, self.refused = sqs, refused

    def send_message_batch(self, *, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        def source(entry: dict[str, Any]) -> str:
            return str(entry["MessageAttributes"]["source_message_id"]["StringValue"])

        kept = [e for e in Entries if source(e) != self.refused]
        answer = dict(self.sqs.send_message_batch(QueueUrl=QueueUrl, Entries=kept))
        failed = [e for e in Entries if source(e) == self.refused]
        answer["Failed"] = [
            {
                "Id": e["Id"],
                "Code": "InvalidParameterValue",
                "Message": "refused",
                "SenderFault": True,
            }
            for e in failed
        ]
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)


def test_an_entry_a_batch_send_refuses_fails_only_its_message(
    dataplane: DataPlane, aws: Clients
) -> None:
    sqs: Any = aws.queues
    url = sqs.create_queue(QueueName="stacked-refused")["QueueUrl"]
    clients = Clients(objects=aws.objects, queues=FakeSqsFailingOneEntry(sqs, "m-3"))
    bodies = [(f"m-{i}", v2([[i, 1, 1]])) for i in range(5)]
    cfg = EventsConfig(sources=config({"queue_url": url}).sources, report_errors=True)
    answer = handle_batch_event(dataplane, event(*bodies), config=cfg, clients=clients)
    assert answer["batchItemFailures"] == [{"itemIdentifier": "m-3"}]
    assert "InvalidParameterValue: refused" in answer["errors"]["m-3"]
    sent: set[str] = set()
    for _ in range(5):  # receives, until the four sent results are in
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        messages = reply.get("Messages", [])
        sent |= {m["MessageAttributes"]["source_message_id"]["StringValue"] for m in messages}
        if len(sent) >= 4:
            break
    assert sent == {"m-0", "m-1", "m-2", "m-4"}


def test_the_output_concurrency_setting() -> None:
    assert output_concurrency({}) == DEFAULT_OUTPUT_CONCURRENCY == 8
    assert output_concurrency({OUTPUT_CONCURRENCY_ENV: "3"}) == 3
    for bad in ("0", "-1", "x", "65", "1.5"):
        with pytest.raises(ConfigError, match=OUTPUT_CONCURRENCY_ENV):
            output_concurrency({OUTPUT_CONCURRENCY_ENV: bad})


@given(st.text(max_size=6))
@settings(max_examples=200, deadline=None)
def test_the_concurrency_setting_is_a_bounded_integer_or_refused(raw: str) -> None:
    try:
        value = output_concurrency({OUTPUT_CONCURRENCY_ENV: raw})
    except ConfigError as exc:
        assert OUTPUT_CONCURRENCY_ENV in str(exc)
        return
    assert 1 <= value <= MAX_OUTPUT_CONCURRENCY
    assert value == (int(raw) if raw else DEFAULT_OUTPUT_CONCURRENCY)


@given(st.lists(st.integers(min_value=0, max_value=200_000), max_size=40))
@settings(max_examples=100, deadline=None)
def test_send_batches_hold_every_result_once_in_order_within_the_limits(
    sizes: list[int],
) -> None:
    bodies = {f"m-{i}": "x" * size for i, size in enumerate(sizes)}
    chunks = _chunks(bodies)
    assert [mid for chunk in chunks for mid in chunk] == list(bodies)
    for chunk in chunks:
        assert 1 <= len(chunk) <= SEND_BATCH_ENTRIES
        if len(chunk) > 1:
            assert sum(len(body) for body in chunk.values()) <= SEND_BATCH_BYTES
