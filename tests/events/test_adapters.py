"""The SQS and S3 adapters against a real moto server and a real onnxruntime model."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
import pytest
from event_model import expected

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import InternalError
from modelstack_runtime.events import batch_event_kind, handle_batch_event
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV, EventsConfig
from modelstack_runtime.events.outputs import object_output_key, result_key
from modelstack_runtime.events.rows import ObjectTooLarge, RowLimits
from modelstack_runtime.events.s3 import read_object
from modelstack_runtime.lambda_handler import LambdaAdapter

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:orders"


def sqs_event(*bodies: tuple[str, str]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": mid, "body": body, "eventSource": "aws:sqs", "eventSourceARN": QUEUE_ARN}
            for mid, body in bodies
        ]
    }


def s3_event(bucket: str, *keys: str) -> dict[str, Any]:
    return {
        "Records": [
            {"eventSource": "aws:s3", "s3": {"bucket": {"name": bucket}, "object": {"key": k}}}
            for k in keys
        ]
    }


def config(bucket: str, **output: str) -> EventsConfig:
    out = output or {"bucket": bucket, "prefix": "results/"}
    return EventsConfig.from_dict(
        {
            "sources": [
                {"name": "orders", "kind": "queue", "queue": QUEUE_ARN, "output": out},
                {
                    "name": "catalog",
                    "kind": "bucket",
                    "bucket": bucket,
                    "prefix": "incoming/",
                    "rows_per_batch": 7,
                    "output": {"bucket": bucket, "prefix": "scored/"},
                },
            ]
        }
    )


def read_json(aws: Clients, bucket: str, key: str) -> Any:
    assert aws.objects is not None
    return json.loads(aws.objects.get_object(Bucket=bucket, Key=key)["Body"].read())


def v2(x: list[float]) -> str:
    return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": x}]})


def test_the_event_shapes_are_recognised() -> None:
    assert batch_event_kind(sqs_event(("1", "{}"))) == "sqs"
    assert batch_event_kind(s3_event("b", "k")) == "s3"
    for other in ({"inputs": []}, {"Records": []}, {"Records": [{"eventSource": "aws:sns"}]}, []):
        assert batch_event_kind(other) is None


def test_a_poison_message_fails_alone(dataplane: DataPlane, aws: Clients, bucket: str) -> None:
    event = sqs_event(
        ("m-1", v2([1, 2, 3])),
        ("m-2", "not json"),
        ("m-3", json.dumps({"x": [0, 1, 0]})),
        ("m-4", json.dumps({"x": [0, 1]})),
        (
            "m-5",
            json.dumps(
                {"inputs": [{"name": "nope", "datatype": "FP32", "shape": [1], "data": [1]}]}
            ),
        ),
    )
    answer = handle_batch_event(dataplane, event, config=config(bucket), clients=aws)
    assert answer == {"batchItemFailures": [{"itemIdentifier": i} for i in ("m-2", "m-4", "m-5")]}
    first = read_json(aws, bucket, "results/m-1.json")
    assert first["outputs"][0]["data"] == expected([[1, 2, 3]])
    assert first["id"] == "m-1"
    assert read_json(aws, bucket, "results/m-3.json")["outputs"][0]["data"] == expected([[0, 1, 0]])
    assert aws.objects is not None
    listed = aws.objects.list_objects_v2(Bucket=bucket)["Contents"]  # type: ignore[attr-defined]
    assert sorted(o["Key"] for o in listed) == ["results/m-1.json", "results/m-3.json"]


def test_a_redelivered_message_rewrites_the_same_key(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    for _ in range(2):
        handle_batch_event(
            dataplane, sqs_event(("m/1", v2([1, 1, 1]))), config=config(bucket), clients=aws
        )
    assert aws.objects is not None
    listed = aws.objects.list_objects_v2(Bucket=bucket)["Contents"]  # type: ignore[attr-defined]
    assert [o["Key"] for o in listed] == [result_key("results/", "m/1")] == ["results/m%2F1.json"]


def test_a_queue_output_carries_the_source_message_id(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    assert aws.queues is not None
    url = aws.queues.create_queue(QueueName="results-out")["QueueUrl"]  # type: ignore[attr-defined]
    cfg = config(bucket, queue_url=url)
    assert handle_batch_event(
        dataplane, sqs_event(("m-9", v2([3, 2, 1]))), config=cfg, clients=aws
    ) == {"batchItemFailures": []}
    got = aws.queues.receive_message(  # type: ignore[attr-defined]
        QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1
    )["Messages"]
    assert got[0]["MessageAttributes"]["source_message_id"]["StringValue"] == "m-9"
    assert json.loads(got[0]["Body"])["outputs"][0]["data"] == expected([[3, 2, 1]])


def test_the_lambda_handler_dispatches_batches(
    dataplane: DataPlane, aws: Clients, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelstack_runtime.events.clients as clients

    monkeypatch.setattr(clients, "_default", aws)
    cfg = {"sources": [{"name": "orders", "kind": "queue", "queue": QUEUE_ARN,
                        "output": {"bucket": bucket, "prefix": "r/"}}]}  # fmt: skip
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps(cfg))
    answer = LambdaAdapter(dataplane)(sqs_event(("a", v2([1, 0, 0])), ("b", "{}")))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert read_json(aws, bucket, "r/a.json")["outputs"][0]["data"] == expected([[1, 0, 0]])


def put(aws: Clients, bucket: str, key: str, data: bytes) -> None:
    assert aws.objects is not None
    aws.objects.put_object(
        Bucket=bucket, Key=key, Body=data, ContentType="application/octet-stream"
    )


def test_objects_are_scored_in_order_and_a_malformed_one_is_skipped(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    x = np.arange(60, dtype=np.float32).reshape(20, 3)
    rows = "".join(json.dumps({"x": r.tolist()}) + "\n" for r in x).encode()
    buffer = io.BytesIO()
    np.savez(buffer, x=x[:5])
    put(aws, bucket, "incoming/day 1/a.jsonl", rows)
    put(aws, bucket, "incoming/bad.jsonl", b'{"x": [1, 2, 3]}\n{"x": "oops"}\n')
    put(aws, bucket, "incoming/b.npz", buffer.getvalue())
    event = s3_event(bucket, "incoming/day+1/a.jsonl", "incoming/bad.jsonl", "incoming/b.npz")
    answer = handle_batch_event(dataplane, event, config=config(bucket), clients=aws)
    assert [o["output"] for o in answer["objects"]] == ["scored/day 1/a.jsonl", "scored/b.jsonl"]
    assert [s["key"] for s in answer["skipped"]] == ["incoming/bad.jsonl"]
    assert "not FP32 rows" in answer["skipped"][0]["error"]
    assert aws.objects is not None
    body = aws.objects.get_object(Bucket=bucket, Key="scored/day 1/a.jsonl")["Body"].read()
    results = [json.loads(line) for line in body.splitlines()]
    assert [r["id"] for r in results] == [f"incoming/day 1/a.jsonl#{i}" for i in range(20)]
    assert [r["outputs"][0]["data"] for r in results] == [expected([row]) for row in x.tolist()]


def test_a_fault_is_raised_after_the_other_objects(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    put(aws, bucket, "incoming/ok.jsonl", b'{"x": [1, 2, 3]}\n')
    event = s3_event(bucket, "incoming/missing.jsonl", "incoming/ok.jsonl")
    with pytest.raises(InternalError, match="1 object\\(s\\) failed and will be retried"):
        handle_batch_event(dataplane, event, config=config(bucket), clients=aws)
    assert read_json(aws, bucket, "scored/ok.jsonl")["id"] == "incoming/ok.jsonl#0"


def test_an_oversize_object_is_skipped_before_it_is_read(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    put(aws, bucket, "incoming/big.jsonl", b'{"x": [1, 2, 3]}\n' * 100)
    cfg = EventsConfig.from_dict({"sources": [{
        "name": "catalog", "kind": "bucket", "bucket": bucket, "prefix": "incoming/",
        "max_object_bytes": 1000, "output": {"bucket": bucket, "prefix": "scored/"}}]})  # fmt: skip
    answer = handle_batch_event(
        dataplane, s3_event(bucket, "incoming/big.jsonl"), config=cfg, clients=aws
    )
    assert answer["objects"] == []
    assert "1700 bytes, above the limit of 1000" in answer["skipped"][0]["error"]


def test_an_object_refused_unread_closes_its_body_at_once() -> None:
    from botocore.response import StreamingBody

    class OneObject:  # what boto3's get_object gives back, over a real StreamingBody
        def __init__(self) -> None:
            self.raw = io.BytesIO(b"0" * 2000)

        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"ContentLength": 2000, "Body": StreamingBody(self.raw, 2000)}

    objects = OneObject()
    limits = RowLimits(max_object_bytes=1000, max_rows=10)
    with pytest.raises(ObjectTooLarge, match="2000 bytes, above the limit of 1000"):
        read_object(objects, "b", "incoming/big.jsonl", limits=limits)
    assert objects.raw.closed, "its connection goes back at once, not when collected"


def test_output_keys() -> None:
    assert (
        object_output_key("in/a/b.csv", source_prefix="in/", output_prefix="out/")
        == "out/a/b.jsonl"
    )
    assert result_key("r/", "a b") != result_key("r/", "a_b")


def test_a_schedule_rescores_its_prefix(dataplane: DataPlane, aws: Clients, bucket: str) -> None:
    put(aws, bucket, "incoming/a.jsonl", b'{"x": [1, 2, 3]}\n')
    put(aws, bucket, "incoming/b.csv", b"x,x,x\n0,1,0\n3,2,1\n")
    put(aws, bucket, "incoming/notes.txt", b"not rows")
    put(aws, bucket, "other/c.jsonl", b'{"x": [1, 2, 3]}\n')
    cfg = EventsConfig.from_dict({"sources": [{
        "name": "nightly", "kind": "schedule", "bucket": bucket, "prefix": "incoming/",
        "output": {"bucket": bucket, "prefix": "rescored/"}}]})  # fmt: skip
    event = {"modelstack_rescore": {"source": "nightly"}}
    assert batch_event_kind(event) == "rescore"
    answer = handle_batch_event(dataplane, event, config=cfg, clients=aws)
    assert sorted(o["output"] for o in answer["objects"]) == [
        "rescored/a.jsonl",
        "rescored/b.jsonl",
    ]
    assert aws.objects is not None
    body = aws.objects.get_object(Bucket=bucket, Key="rescored/b.jsonl")["Body"].read()
    assert [json.loads(x)["outputs"][0]["data"] for x in body.splitlines()] == [
        expected([[0, 1, 0]]),
        expected([[3, 2, 1]]),
    ]


def test_a_results_queue_named_is_looked_up(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    assert aws.queues is not None
    url = aws.queues.create_queue(QueueName="named-results")["QueueUrl"]  # type: ignore[attr-defined]
    cfg = EventsConfig.from_dict({"sources": [{"name": "orders", "kind": "queue", "queue": "orders",
                                               "output": {"queue": "named-results"}}]})  # fmt: skip
    answer = handle_batch_event(
        dataplane, sqs_event(("n-1", v2([1, 1, 0]))), config=cfg, clients=aws
    )
    assert answer == {"batchItemFailures": []}
    got = aws.queues.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]  # type: ignore[attr-defined]
    assert got[0]["MessageAttributes"]["source_message_id"]["StringValue"] == "n-1"
