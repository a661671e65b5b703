from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from httputil import GOOD_X
from runtime_models import expected_linear, linear_model, write_config

import modelstack_runtime.lambda_handler as lambda_module
from modelstack_runtime import (
    CONFIG_ENV,
    LambdaAdapter,
    RuntimeConfig,
    decode_response,
    encode_binary_request,
    encode_json_request,
    load_dataplane,
)
from modelstack_runtime.lambda_handler import handler

CONTEXT = SimpleNamespace(aws_request_id="lambda-req-1")


@pytest.fixture
def adapter(linear_config: RuntimeConfig) -> LambdaAdapter:
    return LambdaAdapter(load_dataplane(linear_config))


def direct_event(**extra: Any) -> dict[str, Any]:
    return json.loads(encode_json_request({"float_input": GOOD_X}, request_id="d1")) | extra


def test_direct_invocation(adapter: LambdaAdapter) -> None:
    result = adapter(direct_event(), CONTEXT)
    assert result["model_name"] == "iris" and result["id"] == "d1"
    outputs = decode_response(json.dumps(result).encode())
    np.testing.assert_allclose(outputs["probabilities"], expected_linear(GOOD_X)[0], rtol=1e-6)
    assert adapter(direct_event(model_name="iris"), CONTEXT)["model_version"] == "3"


@pytest.mark.parametrize(
    ("event", "status", "message"),
    [
        (direct_event(model_name="nope"), 404, "unknown model 'nope'"),
        (direct_event(model_name=3), 400, "'model_name' must be a string"),
        ({"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [1, 3],
                      "data": [1, 2, 3]}]}, 400, "expected shape"),
        ({"nothing": 1}, 400, "non-empty 'inputs' list"),
        ([1, 2], 400, "must be a v2 infer request object"),
        ("text", 400, "must be a v2 infer request object"),
    ],
)  # fmt: skip
def test_direct_errors_are_payloads(
    adapter: LambdaAdapter, event: Any, status: int, message: str
) -> None:
    result = adapter(event, CONTEXT)
    assert result["status"] == status and message in result["error"]
    assert "outputs" in adapter(direct_event(), CONTEXT)  # still serving


def function_url_event(
    body: bytes, headers: dict[str, str], path: str, b64: bool
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {"http": {"method": "POST", "path": path}, "requestId": "x"},
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


def test_function_url_json(adapter: LambdaAdapter) -> None:
    body = encode_json_request({"float_input": GOOD_X})
    event = function_url_event(body, {"content-type": "application/json"}, "/", False)
    result = adapter(event, CONTEXT)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is False
    assert result["headers"]["Content-Type"] == "application/json"
    outputs = decode_response(result["body"].encode())
    np.testing.assert_array_equal(outputs["label"], expected_linear(GOOD_X)[1])


def test_api_gateway_v2_binary_base64(adapter: LambdaAdapter) -> None:
    body, length = encode_binary_request({"float_input": GOOD_X})
    headers = {"inference-header-content-length": str(length)}
    event = function_url_event(body, headers, "/prod/v2/models/iris/infer", True)
    result = adapter(event, CONTEXT)
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    reply_length = int(result["headers"]["Inference-Header-Content-Length"])
    outputs = decode_response(base64.b64decode(result["body"]), reply_length)
    np.testing.assert_allclose(outputs["probabilities"], expected_linear(GOOD_X)[0], rtol=1e-6)


def api_gateway_v1_event(method: str, path: str, body: str | None) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"} if body else None,
        "requestContext": {"stage": "prod", "requestId": "y"},
        "body": body,
        "isBase64Encoded": False,
    }


def test_api_gateway_v1(adapter: LambdaAdapter) -> None:
    body = encode_json_request({"float_input": GOOD_X}, request_id="v1").decode()
    result = adapter(api_gateway_v1_event("POST", "/v2/models/iris/infer", body), CONTEXT)
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["id"] == "v1"
    ready = adapter(api_gateway_v1_event("GET", "/v2/health/ready", None), CONTEXT)
    assert ready["statusCode"] == 200 and json.loads(ready["body"]) == {"ready": True}
    meta = adapter(api_gateway_v1_event("GET", "/v2/models/iris", None), CONTEXT)
    assert json.loads(meta["body"])["inputs"][0]["shape"] == [-1, 4]


@pytest.mark.parametrize(
    ("event", "status", "message"),
    [
        ({**api_gateway_v1_event("POST", "/v2/models/iris/infer", "x"), "isBase64Encoded": True,
          "body": "!!!"}, 400, "not valid base64"),
        (api_gateway_v1_event("POST", "/v2/models/iris/infer", "{"), 400, "malformed JSON"),
        (api_gateway_v1_event("GET", "/nowhere", None), 404, "no route"),
        (api_gateway_v1_event("POST", "/v2/models/other/infer", "{}"), 404, "unknown model"),
        (api_gateway_v1_event("POST", "/v2/models/iris/infer", " " * 20_000_000), 413,
         "exceeds the limit"),
    ],
)  # fmt: skip
def test_proxy_errors_are_status_codes(
    adapter: LambdaAdapter, event: dict[str, Any], status: int, message: str
) -> None:
    result = adapter(event, CONTEXT)
    assert result["statusCode"] == status
    assert message in json.loads(result["body"])["error"]


@pytest.fixture
def fresh_module_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(CONFIG_ENV, str(write_config(tmp_path, linear_model())))
    monkeypatch.setattr(lambda_module, "_adapter", None)
    yield


def test_module_handler_loads_once_and_emits_emf(
    fresh_module_handler: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = handler(direct_event(), CONTEXT)
    adapter = lambda_module._adapter
    second = handler(direct_event(), SimpleNamespace(aws_request_id="lambda-req-2"))
    assert lambda_module._adapter is adapter  # loaded once, reused
    assert first["outputs"] == second["outputs"]
    out = capsys.readouterr().out.splitlines()
    assert any("session create" in line for line in out)  # the load split, a plain line
    lines = [json.loads(line) for line in out if line.startswith("{")]
    assert [line["request_id"] for line in lines] == ["d1", "d1"]
    emf = lines[0]["_aws"]["CloudWatchMetrics"][0]
    assert emf["Namespace"] == "modelstack"
    assert emf["Metrics"][0] == {"Name": "latency_ms", "Unit": "Milliseconds"}
    for metric in emf["Metrics"]:  # every metric the directive names is a member of the line
        assert isinstance(lines[0][metric["Name"]], (int, float))
    assert lines[0]["model"] == "iris" and isinstance(lines[0]["latency_ms"], float)
    assert sys.stdout is not None


def test_bootstrap_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelstack_runtime import lambda_bootstrap

    monkeypatch.setitem(sys.modules, "awslambdaric.__main__", None)
    assert lambda_bootstrap.main() == 2
    assert "pip install awslambdaric" in capsys.readouterr().err
    assert lambda_bootstrap.HANDLER == "modelstack_runtime.lambda_handler.handler"


_GOOD_BODY = encode_json_request({"float_input": GOOD_X}).decode()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"rawPath": "/", "headers": ["a"], "body": _GOOD_BODY, "requestContext": {}},
         "event.headers must be an object"),
        ({"rawPath": "/", "body": _GOOD_BODY, "requestContext": "prod"},
         "event.requestContext must be an object"),
        ({"rawPath": "/", "body": _GOOD_BODY, "requestContext": {"http": []}},
         "requestContext.http must be an object"),
        ({"rawPath": "/", "body": _GOOD_BODY, "requestContext": {"http": {"method": 5}}},
         "requestContext.http.method must be a string"),
        ({"rawPath": 7, "body": _GOOD_BODY}, "event.rawPath must be a string"),
        ({"rawPath": "/", "headers": {"x": 1}, "body": _GOOD_BODY}, "header 'x' must be a string"),
        ({"rawPath": "/", "body": '{"inputs": "\ud800"}'}, "not valid Unicode"),
    ],
    ids=["headers-list", "context-string", "http-list", "method-int", "path-int", "header-int",
         "lone-surrogate"],
)  # fmt: skip
def test_malformed_proxy_events_get_a_proxy_400(
    adapter: LambdaAdapter, event: dict[str, Any], message: str
) -> None:
    result = adapter(event, CONTEXT)
    assert result["statusCode"] == 400 and result["isBase64Encoded"] is False
    assert message in json.loads(result["body"])["error"]


def test_a_fault_in_a_proxy_event_gets_a_proxy_500(adapter: LambdaAdapter) -> None:
    model = adapter.dataplane.model
    assert model is not None
    original = model.infer
    model.infer = lambda *a, **k: 1 / 0  # type: ignore[method-assign,misc,assignment,return-value]
    try:
        result = adapter({"rawPath": "/", "body": _GOOD_BODY, "requestContext": {}}, CONTEXT)
    finally:
        model.infer = original  # type: ignore[method-assign]
    assert result["statusCode"] == 500 and "error" in json.loads(result["body"])
