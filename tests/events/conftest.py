"""Fixtures: a tiny real ONNX model behind a real data plane, and a real moto server on
127.0.0.1 (a free port) for SQS and S3."""

from __future__ import annotations

import json
from collections.abc import Iterator

import onnx
import pytest
from event_model import scaled_model

from modelstack_runtime import load_config
from modelstack_runtime.dataplane import DataPlane, load_dataplane
from modelstack_runtime.events.clients import Clients


@pytest.fixture(scope="session")
def dataplane(tmp_path_factory: pytest.TempPathFactory) -> DataPlane:
    directory = tmp_path_factory.mktemp("model")
    onnx.save(scaled_model(), str(directory / "model.onnx"))
    config = {"model_name": "scaled", "model_version": "1", "model_path": "model.onnx"}
    (directory / "runtime.json").write_text(json.dumps(config))
    return load_dataplane(load_config(directory / "runtime.json"))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Clients:
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    return Clients(objects=boto3.client("s3"), queues=boto3.client("sqs"))


@pytest.fixture
def bucket(aws: Clients, request: pytest.FixtureRequest) -> str:
    import re

    assert aws.objects is not None
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-") + "-b"
    aws.objects.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name
