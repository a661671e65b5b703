"""A small four-feature classifier, its runtime config, an HTTP client for the tests, and an
OTLP/HTTP receiver on 127.0.0.1 that keeps the trace export bodies it is sent."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelstack_runtime import RuntimeConfig, RuntimeServer, encode_json_request

WEIGHTS = np.array(
    [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5], [-0.25, 2.0, 1.0], [0.0, 1.0, 0.5]], dtype=np.float32
)


def classifier() -> onnx.ModelProto:
    """probabilities = x @ W (FP32 [-1, 4] -> [-1, 3]), label = argmax (INT64 [-1])."""
    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("MatMul", ["float_input", "W"], ["probabilities"]),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "classifier", [x], [y, label], initializer=[numpy_helper.from_array(WEIGHTS, "W")]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def runtime_config(directory: Path, **overrides: Any) -> RuntimeConfig:
    onnx.save(classifier(), str(directory / "model.onnx"))
    data = {"model_name": "iris", "model_version": "3", "model_path": "model.onnx", **overrides}
    return RuntimeConfig.from_dict(json.loads(json.dumps(data)), base_dir=directory)


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()

    def infer(
        self, x: np.ndarray, headers: dict[str, str] | None = None, model: str = "iris"
    ) -> tuple[int, dict[str, str], bytes]:
        body = encode_json_request({"float_input": x.astype(np.float32)})
        return self.request(
            "POST", f"/v2/models/{model}/infer", body,
            {"Content-Type": "application/json", **(headers or {})},
        )  # fmt: skip

    def metrics(self) -> str:
        status, headers, body = self.request("GET", "/metrics")
        assert status == 200, body
        assert headers["content-type"].startswith("text/plain; version=0.0.4")
        return body.decode("utf-8")

    def close(self) -> None:
        self.conn.close()


# Fixtures (imported by the test modules that use them: this folder has no conftest.py, whose
# module name would clash with tests/runtime/conftest.py, which tests there import from).


@pytest.fixture(name="server")
def server_fixture(tmp_path: Path) -> Iterator[RuntimeServer]:
    srv = RuntimeServer(runtime_config(tmp_path))
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)


@pytest.fixture(name="client")
def client_fixture(server: RuntimeServer) -> Iterator[Client]:
    c = Client(server.port)
    yield c
    c.close()


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            type(self).bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[tuple[str, list[bytes]]]:
    """The receiver's endpoint and the bodies POSTed to its /v1/traces, in order."""
    bodies: list[bytes] = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", bodies
    httpd.shutdown()
    httpd.server_close()
