"""One catalog-tagging image, the same labels through every way in: HTTP (v2 JSON with the
image in base64, and the binary extension), the Lambda Invoke API called with boto3, and an
SQS event record invoked as an event source mapping would, its result written to the local
S3-compatible server."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import docker
import numpy as np
import pytest
from example_copies import copy_example

from modelstack.cli import main
from modelstack.deploy.state import StateStore
from modelstack.image.containers import free_port, run_container
from modelstack_runtime import decode_response, encode_binary_request

NAME = "catalog-tagging"
FUNCTION = f"{NAME}.local"
ENDPOINT = os.environ.get("MODELSTACK_EVENTS_ENDPOINT", "http://127.0.0.1:5002")
BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
QUEUE_ARN = "arn:aws:sqs:us-east-1:000000000000:ms-pf-tags"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
}
TARGET = """targets:
  local:
    provider: local
    flavour: lambda
    port: {port}
    environment:
      MODELSTACK_EVENTS: '{events}'
      AWS_ENDPOINT_URL: {endpoint}
      AWS_DEFAULT_REGION: us-east-1
      AWS_ACCESS_KEY_ID: local
      AWS_SECRET_ACCESS_KEY: local  # modelstack: noqa MS501 (the local server's placeholder)
"""
EVENTS = """events:
  - name: tags
    queue: {{}}
    output: {{bucket: {bucket}, prefix: tags/}}
"""
FILES = ("three.jpg", "seven.png")
TOLERANCE = 1e-5


@dataclass(frozen=True)
class Deployed:
    folder: Path
    port: int
    image_id: str
    bucket: str


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    folder = copy_example(NAME, tmp_path_factory.mktemp("everywhere") / NAME)
    manifest = folder / "modelstack.yaml"
    port, bucket = free_port(), f"ms-pf-{uuid.uuid4().hex[:12]}"
    source = {"name": "tags", "kind": "queue", "queue": QUEUE_ARN,
              "output": {"bucket": bucket, "prefix": "tags/"}}  # fmt: skip
    target = TARGET.format(port=port, events=json.dumps({"sources": [source]}), endpoint=ENDPOINT)
    text = manifest.read_text(encoding="utf-8")
    text = text.replace("targets:\n  local:\n    provider: local\n", target)
    manifest.write_text(text + EVENTS.format(bucket=bucket), encoding="utf-8")
    s3().create_bucket(Bucket=bucket)
    assert main(["up", str(manifest), "--target", "local", *BUILD_FLAGS]) == 0
    stable = StateStore(folder, "local").load().stable
    assert stable is not None
    try:
        yield Deployed(folder, port, stable.image_id, bucket)
    finally:
        main(["destroy", str(manifest), "--target", "local", "--yes"])


def s3() -> Any:
    return boto3.client("s3", endpoint_url=ENDPOINT, **CREDENTIALS)


def image(deployed: Deployed, file: str) -> bytes:
    return (deployed.folder / "images" / file).read_bytes()


def json_request(data: bytes) -> dict[str, Any]:
    encoded = base64.b64encode(data).decode("ascii")
    return {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [encoded]}]}


def answer(outputs: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    by_name = {o["name"]: o["data"] for o in outputs}
    return list(by_name["labels"]), [float(s) for s in by_name["scores"]]


def http_answers(port: int, data: bytes) -> list[tuple[list[str], list[float]]]:
    url = f"http://127.0.0.1:{port}/v2/models/{NAME}/infer"
    body = json.dumps(json_request(data)).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with OPENER.open(request, timeout=30) as response:
        from_json = answer(json.loads(response.read())["outputs"])
    tensor = np.empty(1, dtype=object)
    tensor[0] = data
    binary, length = encode_binary_request({"image": tensor}, binary_outputs=True)
    headers = {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(length),
    }
    request = urllib.request.Request(url, binary, headers)
    with OPENER.open(request, timeout=30) as response:
        size = response.headers.get("Inference-Header-Content-Length")
        outputs = decode_response(response.read(), int(size) if size else None)
    from_binary = (
        [label.decode() for label in outputs["labels"].ravel()],
        [float(s) for s in outputs["scores"].ravel()],
    )
    return [from_json, from_binary]


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with OPENER.open(f"http://127.0.0.1:{port}/v2/health/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


@pytest.fixture(scope="module")
def from_http(deployed: Deployed) -> dict[str, list[tuple[list[str], list[float]]]]:
    """The built Lambda image's runtime serving HTTP, as the HTTP flavours run it."""
    engine = docker.from_env()
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port)}
    entry = ["python3", "-m", "modelstack_runtime"]
    try:
        with run_container(
            engine, deployed.image_id, environment=env, entrypoint=entry, name_prefix="ms-pf-http"
        ):
            wait_ready(port)
            return {file: http_answers(port, image(deployed, file)) for file in FILES}
    finally:
        engine.close()


def lambda_client(port: int) -> Any:
    return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", **CREDENTIALS)


def assert_same(got: tuple[list[str], list[float]], want: tuple[list[str], list[float]]) -> None:
    assert got[0] == want[0]
    np.testing.assert_allclose(got[1], want[1], atol=TOLERANCE)


@pytest.mark.parametrize("file", FILES)
def test_http_json_and_binary_give_the_labels_the_file_shows(
    from_http: dict[str, list[tuple[list[str], list[float]]]], file: str
) -> None:
    from_json, from_binary = from_http[file]
    assert from_json[0][0] == file.split(".")[0] and len(from_json[0]) == 3
    assert_same(from_binary, from_json)


@pytest.mark.parametrize("file", FILES)
def test_boto3_invoke_gives_the_labels_http_gives(
    deployed: Deployed, from_http: dict[str, list[tuple[list[str], list[float]]]], file: str
) -> None:
    client = lambda_client(deployed.port)
    payload = json.dumps(json_request(image(deployed, file))).encode()
    response = client.invoke(FunctionName=FUNCTION, Qualifier="live", Payload=payload)
    assert "FunctionError" not in response, response["Payload"].read()
    assert_same(answer(json.loads(response["Payload"].read())["outputs"]), from_http[file][0])


def test_an_sqs_record_gives_the_labels_http_gives(
    deployed: Deployed, from_http: dict[str, list[tuple[list[str], list[float]]]]
) -> None:
    records = [
        {
            "messageId": f"pf-{file.replace('.', '-')}",
            "eventSource": "aws:sqs",
            "eventSourceARN": QUEUE_ARN,
            "body": json.dumps(json_request(image(deployed, file))),
            "attributes": {"ApproximateReceiveCount": "1"},
        }
        for file in FILES
    ]
    records.append({**records[0], "messageId": "pf-not-an-image", "body": '{"image": "cat"}'})
    response = lambda_client(deployed.port).invoke(
        FunctionName=FUNCTION, Payload=json.dumps({"Records": records}).encode()
    )
    reply = json.loads(response["Payload"].read())
    assert reply == {"batchItemFailures": [{"itemIdentifier": "pf-not-an-image"}]}
    for file in FILES:
        key = f"tags/pf-{file.replace('.', '-')}.json"
        result = json.loads(s3().get_object(Bucket=deployed.bucket, Key=key)["Body"].read())
        assert_same(answer(result["outputs"]), from_http[file][0])
