"""A routed entry whose tier is an aws-lambda function: both sides are the real runtime.

The entry is a real DataPlane with its address of the tier in ``MODELSTACK_ROUTING_TIERS``; the
tier is a second real DataPlane behind its real Lambda handler. Between them, boto3's Lambda
client (the cloud boundary) is a FakeLambdaClient whose ``invoke`` hands the payload to that
handler. Requests reach the entry on the HTTP route table, as a function-URL event and as a
direct invocation, and go through the same router on each.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import onnx
import pytest
from botocore.exceptions import ClientError
from routing_models import softmax_model

from modelstack_runtime.codec import HEADER_LENGTH_HEADER, encode_json_request, read_response
from modelstack_runtime.config import load_config
from modelstack_runtime.dataplane import DataPlane, load_dataplane
from modelstack_runtime.errors import ConfigError
from modelstack_runtime.lambda_handler import LambdaAdapter
from modelstack_runtime.routes import handle
from modelstack_runtime.routing_config import TIERS_ENV

CONFIDENT = [[10.0, 0.0, 0.0]]  # max probability ~1.0: the entry answers itself
UNSURE = [[0.0, 0.0, 0.1]]  # max probability ~0.36: escalated to the tier
ESCALATE = [
    {"to": "large", "output": "probabilities", "condition": "max_prob_below", "threshold": 0.8}
]
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
LAMBDA_ADDRESS = {
    "kind": "aws-lambda",
    "model_name": "large",
    "function_name": "large-prod",
    "qualifier": "live",
    "region": "eu-west-1",
    "timeout_ms": 2000,
}


def write_service(directory: Path, name: str, **config: Any) -> Path:
    """A model and its runtime.json in `directory`; the runtime.json path."""
    directory.mkdir(parents=True, exist_ok=True)
    onnx.save(softmax_model(), str(directory / "model.onnx"))
    data = {"model_name": name, "model_version": f"{name}-1", "model_path": "model.onnx", **config}
    path = directory / "runtime.json"
    path.write_text(json.dumps(data))
    return path


def request_object(x: list[list[float]], **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(encode_json_request({"x": np.array(x, dtype=np.float32)}))
    return {**body, **extra}


class FakeLambdaContext:
    aws_request_id = "lambda-req-1"


class FakeLambdaClient:
    """boto3's Lambda client at the cloud boundary: `invoke` runs a real Lambda handler."""

    def __init__(self, handler: Callable[[Any, Any], Any]) -> None:
        self.handler = handler
        self.invoked: list[dict[str, Any]] = []
        self.missing = False
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def invoke(self, *, FunctionName: str, Qualifier: str, Payload: bytes) -> dict[str, Any]:
        event = json.loads(Payload)
        self.invoked.append({"function": FunctionName, "qualifier": Qualifier, "event": event})
        if self.missing:
            error = {"Error": {"Code": "ResourceNotFoundException", "Message": "no function"}}
            raise ClientError(error, "Invoke")
        try:
            result = self.handler(event, FakeLambdaContext())
        except Exception as exc:  # the Lambda runtime reports it as the function's error
            failure = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
            payload = json.dumps(failure).encode()
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": io.BytesIO(payload)}
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(result).encode())}


@pytest.fixture(scope="module")
def tier_adapter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LambdaAdapter]:
    """The tier: a real DataPlane for `large` behind the real Lambda handler."""
    dataplane = load_dataplane(load_config(write_service(tmp_path_factory.mktemp("t"), "large")))
    yield LambdaAdapter(dataplane)
    dataplane.close()


@pytest.fixture
def fake_lambda(
    tier_adapter: LambdaAdapter, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeLambdaClient]:
    client = FakeLambdaClient(tier_adapter)
    made: list[dict[str, Any]] = []

    def make_client(service: str, **kwargs: Any) -> FakeLambdaClient:
        made.append({"service": service, **kwargs})
        return client

    monkeypatch.setattr(boto3, "client", make_client)
    yield client
    assert all(m["service"] == "lambda" and m["region_name"] == "eu-west-1" for m in made)


@pytest.fixture
def entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., DataPlane]]:
    """An entry DataPlane whose `large` tier is the aws-lambda address in its environment."""
    started: list[DataPlane] = []

    def start(address: dict[str, Any] | None = None, **rules: Any) -> DataPlane:
        monkeypatch.setenv(TIERS_ENV, json.dumps({"large": address or LAMBDA_ADDRESS}))
        routing = {"tiers": {}, "escalate": ESCALATE, **rules}
        path = write_service(tmp_path / f"entry{len(started)}", "small", routing=routing)
        dataplane = load_dataplane(load_config(path))
        started.append(dataplane)
        return dataplane

    yield start
    for dataplane in started:
        dataplane.close()


def http_infer(
    dataplane: DataPlane, x: list[list[float]], headers: dict[str, str] | None = None, **extra: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = json.dumps(request_object(x, **extra)).encode()
    sent = {"content-type": "application/json", **(headers or {})}
    reply = handle(dataplane, "POST", "/v2/models/small/infer", sent, body)
    return int(reply.status), json.loads(reply.body), reply.headers


def test_the_http_path_escalates_to_the_lambda_tier(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    dataplane = entry()
    status, sure, _ = http_infer(dataplane, CONFIDENT)
    assert status == 200 and sure["model_name"] == "small" and not fake_lambda.invoked
    headers = {"x-request-id": "req-42", "traceparent": TRACE, "cookie": "s=1"}
    status, answer, _ = http_infer(dataplane, UNSURE, headers, id="req-42")
    assert status == 200
    assert (answer["model_name"], answer["model_version"], answer["id"]) == (
        "large",
        "large-1",
        "req-42",
    )
    assert answer["parameters"] == {"escalated": True, "routed_by": "escalate"}
    (call,) = fake_lambda.invoked
    assert (call["function"], call["qualifier"]) == ("large-prod", "live")
    event = call["event"]
    assert event["rawPath"] == "/v2/models/large/infer"
    assert event["headers"]["x-request-id"] == "req-42"
    assert event["headers"]["traceparent"] == TRACE  # unchanged when spans are not exported
    assert "cookie" not in event["headers"]


def test_the_direct_invocation_is_routed_like_the_http_path(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    adapter = LambdaAdapter(entry())
    sure = adapter(request_object(CONFIDENT, id="d-1"), FakeLambdaContext())
    assert sure["model_name"] == "small"
    assert sure["parameters"] == {"escalated": False, "routed_by": "self"}
    answer = adapter(request_object(UNSURE, id="d-2", model_name="small"), FakeLambdaContext())
    assert (answer["model_name"], answer["id"]) == ("large", "d-2")
    assert answer["parameters"] == {"escalated": True, "routed_by": "escalate"}
    probabilities = {o["name"]: o for o in answer["outputs"]}["probabilities"]["data"]
    expected = np.exp(UNSURE[0]) / np.exp(UNSURE[0]).sum()
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5)
    (call,) = fake_lambda.invoked
    assert call["event"]["headers"]["x-request-id"] == "lambda-req-1"
    assert "model_name" not in json.loads(base64.b64decode(call["event"]["body"]))


def test_a_function_url_event_is_routed_too(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    adapter = LambdaAdapter(entry())
    event = {
        "version": "2.0",
        "rawPath": "/",
        "headers": {"content-type": "application/json", "traceparent": TRACE},
        "requestContext": {"http": {"method": "POST", "path": "/"}},
        "body": json.dumps(request_object(UNSURE)),
        "isBase64Encoded": False,
    }
    reply = adapter(event, FakeLambdaContext())
    assert reply["statusCode"] == 200
    answer = json.loads(reply["body"])
    assert answer["model_name"] == "large" and answer["parameters"]["escalated"] is True
    assert fake_lambda.invoked[0]["event"]["headers"]["traceparent"] == TRACE


def test_a_binary_answer_from_the_lambda_tier_keeps_its_binary_section(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    """Regression: the cloud hop answered with lower-case header names, so the parameters were
    spliced into the binary section instead of the JSON head."""
    dataplane = entry()
    body = json.dumps(request_object(UNSURE, parameters={"binary_data_output": True})).encode()
    reply = handle(
        dataplane, "POST", "/v2/models/small/infer", {"content-type": "application/json"}, body
    )
    assert reply.status == 200
    length = int(reply.headers[HEADER_LENGTH_HEADER])
    head = json.loads(reply.body[:length])
    assert head["model_name"] == "large"
    assert head["parameters"] == {"escalated": True, "routed_by": "escalate"}
    outputs = read_response(reply.body, length).outputs
    np.testing.assert_allclose(outputs["probabilities"].sum(), 1.0, rtol=1e-5)


def test_a_lambda_tier_that_fails_falls_back_or_fails_as_configured(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    fake_lambda.missing = True
    status, answer, _ = http_infer(entry(), UNSURE)
    assert status == 200 and answer["model_name"] == "small"
    assert answer["parameters"]["escalated"] is False
    assert "ResourceNotFoundException" in answer["parameters"]["tier_failure"]
    adapter = LambdaAdapter(entry(on_tier_failure="fail"))
    reply = adapter({"rawPath": "/", "body": json.dumps(request_object(UNSURE))})
    assert reply["statusCode"] == 503
    assert "tier 'large'" in json.loads(reply["body"])["error"]


def test_a_routed_request_the_lambda_tier_refuses_is_the_clients_4xx(
    entry: Callable[..., DataPlane], fake_lambda: FakeLambdaClient
) -> None:
    route = [{"to": "large", "kind": "parameter", "name": "tier", "equals": "large"}]
    dataplane = entry(route=route)
    # four features where the model takes three: well-formed for the entry, refused by the tier
    bad = request_object([[1.0, 2.0, 3.0, 4.0]], parameters={"tier": "large"})
    reply = handle(
        dataplane,
        "POST",
        "/v2/models/small/infer",
        {"content-type": "application/json"},
        json.dumps(bad).encode(),
    )
    assert reply.status == 400 and "tier 'large'" in json.loads(reply.body)["error"]
    assert len(fake_lambda.invoked) == 1


def test_the_http_kind_from_the_environment_and_a_url_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_lambda: FakeLambdaClient
) -> None:
    """The environment's address wins over a url the file gives the same tier."""
    monkeypatch.setenv(TIERS_ENV, json.dumps({"large": LAMBDA_ADDRESS}))
    tiers = {"large": {"url": "http://127.0.0.1:9", "model_name": "large", "timeout_ms": 500}}
    path = write_service(tmp_path, "small", routing={"tiers": tiers, "escalate": ESCALATE})
    dataplane = load_dataplane(load_config(path))
    try:
        status, answer, _ = http_infer(dataplane, UNSURE)
        assert not fake_lambda.closed
    finally:
        dataplane.close()
    assert status == 200 and answer["model_name"] == "large" and len(fake_lambda.invoked) == 1
    assert fake_lambda.closed  # the entry's close lets go of the tier's client


def test_a_tier_without_any_address_stops_the_service_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TIERS_ENV, raising=False)
    path = write_service(tmp_path, "small", routing={"tiers": {}, "escalate": ESCALATE})
    with pytest.raises(ConfigError, match=f"tier 'large' without a url or an address.*{TIERS_ENV}"):
        load_dataplane(load_config(path))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("{not json", "is not JSON"),
        ('["large"]', "JSON object of tier name to address object"),
        ('{"large": {"kind": "carrier-pigeon"}}', "unknown kind 'carrier-pigeon'"),
        ('{"large": {"kind": "aws-lambda"}}', "tier 'large': incomplete address"),
        ('{"large": {"kind": "aws-lambda", "timeout_ms": 0}}', "timeout_ms must be 1..60000"),
    ],
)
def test_a_bad_address_in_the_environment_stops_the_service_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv(TIERS_ENV, value)
    path = write_service(tmp_path, "small", routing={"tiers": {}, "escalate": ESCALATE})
    with pytest.raises(ConfigError, match=message):
        load_dataplane(load_config(path))


def test_a_tier_kind_whose_sdk_is_missing_stops_the_service_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "boto3", None)  # as if not installed
    monkeypatch.setenv(TIERS_ENV, json.dumps({"large": LAMBDA_ADDRESS}))
    path = write_service(tmp_path, "small", routing={"tiers": {}, "escalate": ESCALATE})
    with pytest.raises(ConfigError, match="aws-lambda tier, which needs boto3 in the image"):
        load_dataplane(load_config(path))
