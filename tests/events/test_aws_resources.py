"""The AWS resources of a Lambda target's event sources, under Pulumi mocks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from modelstack.pulumi import ModelService, ModelServiceArgs
from modelstack.pulumi.offline import (
    MOCK_ACCOUNT,
    RecordedResource,
    RecordingMonitor,
    install_mocks,
)

FIXTURES = Path(__file__).resolve().parents[1] / "pulumi" / "fixtures"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-prod@sha256:" + "ab" * 32
MANIFEST = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {name: iris, version: 1.0.0}
model:
  path: model.onnx
  sha256: 9ea86fb53c2fa87900721eff8c341756ac782f5377a38b6e6e3f9fe2cc194f89
targets:
  prod: {provider: aws-lambda, region: eu-west-1, timeout_s: 20}
events:
  - name: transactions
    queue: {batch_size: 100, max_batching_window_s: 5, max_concurrency: 4, max_receive_count: 5}
    output: {queue: results}
  - name: catalog
    bucket: {bucket: my-images, prefix: incoming/, suffix: .csv}
    output: {bucket: my-images, prefix: scored/}
  - name: photos
    bucket: {bucket: my-images, prefix: photos/, suffix: .npz}
    output: {bucket: my-results, prefix: photos/}
  - name: nightly
    schedule:
      cron: "0 3 * * 1-5"
      rescore: {bucket: my-images, prefix: incoming/}
    output: {bucket: my-images, prefix: rescored/}
"""


@pytest.fixture
def monitor() -> Iterator[RecordingMonitor]:
    yield install_mocks(project="modelstack-tests", stack="test")


def deploy(monitor: RecordingMonitor, manifest: Path) -> list[RecordedResource]:
    args = ModelServiceArgs(manifest=manifest, image=IMAGE, smoke_runner=lambda *a: None)
    monitor.clear()

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        return ModelService("svc", args).endpoint

    program()
    assert monitor.recorded
    return list(monitor.recorded)


@pytest.fixture
def resources(monitor: RecordingMonitor, tmp_path: Path) -> list[RecordedResource]:
    shutil.copy(FIXTURES / "model.onnx", tmp_path / "model.onnx")
    (tmp_path / "modelstack.yaml").write_text(MANIFEST, encoding="utf-8")
    return deploy(monitor, tmp_path / "modelstack.yaml")


def of(resources: list[RecordedResource], suffix: str) -> list[dict[str, Any]]:
    return [r.inputs for r in resources if r.type.endswith(suffix)]


def by_name(resources: list[RecordedResource], suffix: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in resources if r.type.endswith(suffix)}


def test_queue_with_dlq_redrive_and_mapping(resources: list[RecordedResource]) -> None:
    queues = {q["name"]: q for q in of(resources, "sqs/queue:Queue")}
    assert set(queues) == {"iris-prod-transactions", "iris-prod-transactions-dlq", "results"}
    queue = queues["iris-prod-transactions"]
    assert queue["visibilityTimeoutSeconds"] == 120  # 6x the 20 s function timeout
    redrive = json.loads(queue["redrivePolicy"])
    assert redrive["maxReceiveCount"] == 5
    assert redrive["deadLetterTargetArn"].endswith(":iris-prod-transactions-dlq")
    (mapping,) = of(resources, "lambda/eventSourceMapping:EventSourceMapping")
    assert mapping["batchSize"] == 100 and mapping["maximumBatchingWindowInSeconds"] == 5
    assert mapping["scalingConfig"] == {"maximumConcurrency": 4}
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["functionName"].endswith(":function:iris-prod:live")  # follows the rollout
    assert mapping["eventSourceArn"].endswith(":iris-prod-transactions")


def test_one_notification_per_bucket_and_a_scoped_permission(
    resources: list[RecordedResource],
) -> None:
    (notification,) = of(resources, "s3/bucketNotification:BucketNotification")
    assert notification["bucket"] == "my-images"
    filters = {(f["filterPrefix"], f["filterSuffix"]) for f in notification["lambdaFunctions"]}
    assert filters == {("incoming/", ".csv"), ("photos/", ".npz")}
    assert all(f["events"] == ["s3:ObjectCreated:*"] for f in notification["lambdaFunctions"])
    s3 = [
        p
        for p in of(resources, "lambda/permission:Permission")
        if p["principal"] == "s3.amazonaws.com"
    ]
    assert len(s3) == 1
    assert s3[0]["sourceArn"] == "arn:aws:s3:::my-images"
    assert s3[0]["sourceAccount"] == MOCK_ACCOUNT
    assert s3[0]["qualifier"] == "live"


def test_the_schedule_has_its_own_role(resources: list[RecordedResource]) -> None:
    (schedule,) = of(resources, "scheduler/schedule:Schedule")
    assert schedule["scheduleExpression"] == "cron(0 3 ? * MON-FRI *)"
    assert schedule["scheduleExpressionTimezone"] == "UTC"
    assert json.loads(schedule["target"]["input"]) == {"modelstack_rescore": {"source": "nightly"}}
    roles = by_name(resources, "iam/role:Role")
    role = roles["svc-nightly-scheduler-role"]
    assume = json.loads(role["assumeRolePolicy"])["Statement"][0]
    assert assume["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert assume["Condition"] == {"StringEquals": {"aws:SourceAccount": MOCK_ACCOUNT}}
    policies = by_name(resources, "iam/rolePolicy:RolePolicy")
    invoke = json.loads(policies["svc-nightly-scheduler-policy"]["policy"])["Statement"]
    alias = f"arn:aws:lambda:eu-west-1:{MOCK_ACCOUNT}:function:iris-prod:live"
    assert invoke == [
        {"Sid": "InvokeLiveAlias", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": [alias]}
    ]  # fmt: skip


def test_least_privilege_for_every_source(resources: list[RecordedResource]) -> None:
    policies = by_name(resources, "iam/rolePolicy:RolePolicy")
    statements = {
        s["Sid"]: s for s in json.loads(policies["svc-events-policy"]["policy"])["Statement"]
    }
    assert {sid: (s["Action"], s["Resource"]) for sid, s in statements.items()} == {
        "ConsumeTransactions": (
            ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            [f"arn:aws:mock:eu-west-1:{MOCK_ACCOUNT}:iris-prod-transactions"],
        ),
        "SendTransactions": (
            ["sqs:GetQueueUrl", "sqs:SendMessage"],
            [f"arn:aws:mock:eu-west-1:{MOCK_ACCOUNT}:results"],
        ),
        "ReadCatalog": (["s3:GetObject"], ["arn:aws:s3:::my-images/incoming/*"]),
        "WriteCatalog": (["s3:PutObject"], ["arn:aws:s3:::my-images/scored/*"]),
        "ReadPhotos": (["s3:GetObject"], ["arn:aws:s3:::my-images/photos/*"]),
        "WritePhotos": (["s3:PutObject"], ["arn:aws:s3:::my-results/photos/*"]),
        "ListNightly": (["s3:ListBucket"], ["arn:aws:s3:::my-images"]),
        "ReadNightly": (["s3:GetObject"], ["arn:aws:s3:::my-images/incoming/*"]),
        "WriteNightly": (["s3:PutObject"], ["arn:aws:s3:::my-images/rescored/*"]),
    }
    assert statements["ListNightly"]["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}
    assert all("*" not in s["Resource"] for s in statements.values())


def test_the_function_knows_its_sources(resources: list[RecordedResource]) -> None:
    (function,) = of(resources, "lambda/function:Function")
    config = json.loads(function["environment"]["variables"]["MODELSTACK_EVENTS"])
    kinds = {s["name"]: (s["kind"], s.get("queue"), s["output"]) for s in config["sources"]}
    assert kinds["transactions"] == ("queue", "iris-prod-transactions", {"queue": "results"})
    assert kinds["catalog"] == ("bucket", None, {"bucket": "my-images", "prefix": "scored/"})


def test_a_manifest_without_events_adds_nothing(monitor: RecordingMonitor, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "model.onnx", tmp_path / "model.onnx")
    (tmp_path / "modelstack.yaml").write_text(MANIFEST.split("events:")[0], encoding="utf-8")
    resources = deploy(monitor, tmp_path / "modelstack.yaml")
    assert not of(resources, "sqs/queue:Queue") and not of(resources, "scheduler/schedule:Schedule")
    (function,) = of(resources, "lambda/function:Function")
    assert "environment" not in function
