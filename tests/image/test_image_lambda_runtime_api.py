"""The local Lambda Runtime API, driven by runtimes speaking the real protocol over HTTP.

A tiny in-process runtime loop (http.client) plays the function's side; one test runs the real
awslambdaric client in a subprocess. Nothing is mocked: requests go over loopback sockets.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from imagefixtures import IRIS

from modelstack.image.invocations import InvocationBroker, InvocationFailed
from modelstack.image.lambda_runtime_api import API_PREFIX, LambdaRuntimeClient, RuntimeApiServer
from modelstack.manifest import load_manifest
from modelstack.smoke.clients import InferenceFailed
from modelstack.smoke.local import prepare_local
from modelstack.smoke.runner import run_smoke_tests

Handler = Callable[[Any], Any]


class FakeRuntime:
    """A Lambda runtime loop: GET next, call `handler`, POST the response or the error."""

    def __init__(self, address: str, handler: Handler) -> None:
        host, port = address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        self.handler = handler
        self.headers: list[dict[str, str]] = []
        self.statuses: list[int] = []
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def loop(self) -> None:
        try:
            self._loop()
        finally:
            self.connection.close()

    def _loop(self) -> None:
        while True:
            try:
                status, headers, body = self.request("GET", f"{API_PREFIX}/invocation/next")
            except OSError:
                return
            if status != 200:
                self.statuses.append(status)
                return
            self.headers.append(headers)
            request_id = headers["Lambda-Runtime-Aws-Request-Id"]
            try:
                result = json.dumps(self.handler(json.loads(body))).encode()
                path, kind = f"{API_PREFIX}/invocation/{request_id}/response", {}
            except Exception as exc:
                result = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__})
                result = result.encode()
                path = f"{API_PREFIX}/invocation/{request_id}/error"
                kind = {"Lambda-Runtime-Function-Error-Type": "Unhandled"}
            status, _, _ = self.request("POST", path, result, **kind)
            self.statuses.append(status)


@pytest.fixture
def api() -> Iterator[RuntimeApiServer]:
    with RuntimeApiServer(InvocationBroker("iris", timeout_s=10)) as server:
        yield server


def start(api: RuntimeApiServer, handler: Handler) -> FakeRuntime:
    runtime = FakeRuntime(api.address, handler)
    runtime.thread.start()
    return runtime


def test_the_iris_smoke_tests_pass_through_the_real_lambda_adapter(api: RuntimeApiServer) -> None:
    from modelstack_runtime.dataplane import load_dataplane
    from modelstack_runtime.lambda_handler import LambdaAdapter

    bundle = prepare_local(load_manifest(IRIS / "modelstack.yaml"))
    adapter = LambdaAdapter(load_dataplane(bundle.config))
    runtime = start(api, adapter)
    client = LambdaRuntimeClient(api.broker, "iris", timeout_s=10)
    report = run_smoke_tests(bundle.cases, client)
    assert report.passed, [r.problems for r in report.results]
    assert set(runtime.statuses) == {202}
    first = runtime.headers[0]
    assert first["Lambda-Runtime-Invoked-Function-Arn"].endswith(":function:iris")
    assert int(first["Lambda-Runtime-Deadline-Ms"]) > time.time() * 1000
    ids = [h["Lambda-Runtime-Aws-Request-Id"] for h in runtime.headers]
    assert len(ids) == len(set(ids))


def test_a_handler_error_fails_that_invocation_only(api: RuntimeApiServer) -> None:
    def handler(event: Any) -> Any:
        if event.get("boom"):
            raise ValueError("no good")
        return {"echo": event}

    start(api, handler)
    with pytest.raises(InvocationFailed, match="ValueError: no good") as info:
        api.broker.invoke(b'{"boom": true}')
    assert info.value.error_type == "ValueError"
    assert json.loads(api.broker.invoke(b'{"x": 1}')) == {"echo": {"x": 1}}


def test_an_error_document_from_the_model_is_a_failed_inference(api: RuntimeApiServer) -> None:
    start(api, lambda event: {"error": "unknown input 'x'", "status": 400})
    client = LambdaRuntimeClient(api.broker, "iris", timeout_s=5)
    with pytest.raises(InferenceFailed, match="400 unknown input 'x'"):
        client.infer({"x": np.zeros((1, 4), dtype=np.float32)})


def test_an_init_error_fails_waiting_and_later_invocations_at_once(api: RuntimeApiServer) -> None:
    waiting = api.broker.submit(b"{}")
    host, port = api.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    error = {
        "errorMessage": "No module named 'onnxruntime'",
        "errorType": "Runtime.ImportModuleError",
    }
    connection.request(
        "POST",
        f"{API_PREFIX}/init/error",
        body=json.dumps(error),
        headers={"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    assert connection.getresponse().status == 202
    connection.close()
    started = time.monotonic()
    with pytest.raises(InvocationFailed, match=r"failed to initialise: Runtime\.ImportModuleError"):
        waiting.wait(5)
    with pytest.raises(InvocationFailed, match="No module named 'onnxruntime'"):
        api.broker.invoke(b"{}")
    assert time.monotonic() - started < 3  # at once, not after the 5 s wait


def test_unknown_request_ids_and_routes_are_refused(api: RuntimeApiServer) -> None:
    host, port = api.address.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("POST", f"{API_PREFIX}/invocation/nope/response", body=b"{}")
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["errorType"] == "InvalidRequestID"
    connection.request("GET", "/2018-06-01/runtime/other")
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 404


def test_closing_wakes_a_polling_runtime_and_fails_callers(api: RuntimeApiServer) -> None:
    runtime = start(api, lambda event: event)
    while not api.broker.runtime_polled.is_set():
        time.sleep(0.01)
    api.broker.close("the container exited with code 1")
    runtime.thread.join(timeout=5)
    assert runtime.statuses == [410]
    with pytest.raises(InvocationFailed, match="exited with code 1"):
        api.broker.invoke(b"{}")


def test_invocations_time_out_without_a_runtime() -> None:
    broker = InvocationBroker(timeout_s=0.05)
    with pytest.raises(TimeoutError):
        broker.invoke(b"{}")


HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("asked to fail")
    return {"sum": sum(event["numbers"]), "request_id": context.aws_request_id}
"""


def test_the_real_awslambdaric_client_speaks_to_it(api: RuntimeApiServer, tmp_path: Path) -> None:
    (tmp_path / "fn.py").write_text(textwrap.dedent(HANDLER))
    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "PYTHONPATH": str(tmp_path),
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from awslambdaric.__main__ import main; main(['x', 'fn.handler'])"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        answer = json.loads(api.broker.invoke(b'{"numbers": [1, 2, 3]}', timeout_s=30))
        assert answer["sum"] == 6
        assert answer["request_id"]
        with pytest.raises(InvocationFailed, match="RuntimeError: asked to fail"):
            api.broker.invoke(b'{"fail": true}', timeout_s=30)
    finally:
        process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def run_bootstrap(
    api: RuntimeApiServer, tmp_path: Path, args: list[str], handler_env: str | None
) -> subprocess.Popen[bytes]:
    """`python -m modelstack_runtime.lambda_bootstrap ARGS` (the image's ENTRYPOINT + CMD)."""
    (tmp_path / "fn.py").write_text(textwrap.dedent(HANDLER))
    (tmp_path / "other.py").write_text("def handler(event, context):\n    return {'other': 1}\n")
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{root}",
        "AWS_LAMBDA_FUNCTION_NAME": "fn",
    }
    env.pop("_HANDLER", None)
    if handler_env is not None:
        env["_HANDLER"] = handler_env
    return subprocess.Popen(
        [sys.executable, "-m", "modelstack_runtime.lambda_bootstrap", *args],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("args", "handler_env", "expected"),
    [
        (["fn.handler"], None, {"sum": 6}),  # CMD
        (["fn.handler"], "other.handler", {"sum": 6}),  # CMD wins, as ImageConfig.Command
        ([], "other.handler", {"other": 1}),  # _HANDLER without CMD
    ],
)
def test_the_bootstrap_runs_the_handler_lambda_names(
    api: RuntimeApiServer,
    tmp_path: Path,
    args: list[str],
    handler_env: str | None,
    expected: dict[str, int],
) -> None:
    process = run_bootstrap(api, tmp_path, args, handler_env)
    try:
        answer = json.loads(api.broker.invoke(b'{"numbers": [1, 2, 3]}', timeout_s=30))
        assert {k: answer[k] for k in expected} == expected
    finally:
        process.kill()
        process.wait(timeout=10)


def test_the_bootstrap_defaults_to_the_modelstack_handler() -> None:
    from modelstack_runtime.lambda_bootstrap import HANDLER, handler_name

    assert handler_name(["bootstrap"], {}) == HANDLER
    assert handler_name(["bootstrap", " "], {"_HANDLER": ""}) == HANDLER
    assert handler_name(["bootstrap"], {"_HANDLER": "a.b"}) == "a.b"


def iris_adapter() -> Any:
    from modelstack_runtime.dataplane import load_dataplane
    from modelstack_runtime.lambda_handler import LambdaAdapter

    bundle = prepare_local(load_manifest(IRIS / "modelstack.yaml"))
    return LambdaAdapter(load_dataplane(bundle.config)), bundle


IRIS_ROW = {"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [1, 4],
                        "data": [5.1, 3.4, 1.5, 0.2]}]}  # fmt: skip


@pytest.mark.parametrize(
    "event",
    [
        {"version": "2.0", "rawPath": "/prod", "requestContext": {"stage": "prod",
         "http": {"method": "POST", "path": "/prod"}}},
        {"version": "2.0", "rawPath": "/prod/", "requestContext": {"stage": "prod",
         "http": {"method": "POST", "path": "/prod/"}}},
        {"httpMethod": "POST", "path": "/", "requestContext": {"stage": "prod",
         "path": "/prod/"}},
        {"httpMethod": "POST", "path": "/prod", "requestContext": {"stage": "prod"}},
    ],
)  # fmt: skip
def test_a_post_to_the_root_of_a_named_stage_is_an_infer(event: dict[str, Any]) -> None:
    adapter, _ = iris_adapter()
    result = adapter({**event, "body": json.dumps(IRIS_ROW), "isBase64Encoded": False})
    assert result["statusCode"] == 200, result["body"]
    assert json.loads(result["body"])["outputs"]


def test_a_stage_prefix_goes_but_a_path_of_the_same_name_stays() -> None:
    adapter, _ = iris_adapter()
    event = {"version": "2.0", "rawPath": "/prod/v2/models/iris",
             "requestContext": {"stage": "prod", "http": {"method": "GET"}}}  # fmt: skip
    assert adapter(event)["statusCode"] == 200
    other = {**event, "rawPath": "/production", "requestContext": {"stage": "prod",
             "http": {"method": "POST"}}, "body": json.dumps(IRIS_ROW)}  # fmt: skip
    assert adapter(other)["statusCode"] == 404


def test_a_fault_in_a_direct_invocation_is_a_function_error(api: RuntimeApiServer) -> None:
    from modelstack_runtime.errors import InternalError

    adapter, _ = iris_adapter()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise InternalError("onnxruntime failed: boom")

    start(api, adapter)
    adapter.dataplane.infer_object = broken
    with pytest.raises(InvocationFailed, match="InternalError: onnxruntime failed: boom") as info:
        api.broker.invoke(json.dumps(IRIS_ROW).encode())
    document = json.loads(info.value.payload)
    assert document["errorType"] == "InternalError"
    assert document["errorMessage"] == "onnxruntime failed: boom"
    # A bad request stays an ordinary payload (a 4xx is the caller's error, not the function's).
    assert json.loads(api.broker.invoke(b'{"model_name": 3}'))["status"] == 400
