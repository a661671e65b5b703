from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import expected_linear, linear_model, write_config
from httputil import GOOD_X, Client

from modelstack_runtime import (
    RuntimeConfig,
    RuntimeServer,
    decode_response,
    encode_binary_request,
    encode_json_request,
    load_config,
)

LIMIT = 64 * 1024
SOCKET_TIMEOUT_S = 2.0
"""Well above what a served request takes, even on a loaded machine."""


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RuntimeServer]:
    """One server for the bad-input table: small body limit, short socket timeout."""
    directory: Path = tmp_path_factory.mktemp("small")
    config = load_config(
        write_config(
            directory, linear_model(), max_request_bytes=LIMIT, socket_timeout_s=SOCKET_TIMEOUT_S
        )
    )
    srv = RuntimeServer(config)
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)


def _tensor(**change: Any) -> dict[str, Any]:
    return {
        "name": "float_input",
        "datatype": "FP32",
        "shape": [1, 4],
        "data": [1, 2, 3, 4],
    } | change


def _json(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"inputs": list(inputs), **extra}).encode()


_BIN_BODY, _BIN_LEN = encode_binary_request({"float_input": GOOD_X})
JSON_CT = {"Content-Type": "application/json"}
INFER = "/v2/models/iris/infer"

BAD_CASES: list[tuple[str, str, str, bytes, dict[str, str], int, str]] = [
    ("malformed-json", "POST", INFER, b'{"inputs": [', JSON_CT, 400, "malformed JSON"),
    ("content-type", "POST", INFER, _json(_tensor()), {"Content-Type": "text/plain"}, 415,
     "unsupported Content-Type 'text/plain'"),
    ("encoding", "POST", INFER, _json(_tensor()), {"Content-Encoding": "gzip"}, 415,
     "Content-Encoding 'gzip'"),
    ("unknown-model", "POST", "/v2/models/nope/infer", _json(_tensor()), JSON_CT, 404,
     "unknown model 'nope'"),
    ("unknown-version", "POST", "/v2/models/iris/versions/9/infer", _json(_tensor()), JSON_CT,
     404, "has no version '9'"),
    ("unknown-route", "GET", "/v1/models/iris", b"", {}, 404, "no route for GET /v1/models/iris"),
    ("wrong-method", "GET", INFER, b"", {}, 405, "GET is not allowed"),
    ("missing-input", "POST", INFER, _json(_tensor(name="x")), JSON_CT, 400,
     "missing input 'float_input'"),
    ("extra-input", "POST", INFER, _json(_tensor(), _tensor(name="bogus")), JSON_CT, 400,
     "unknown input 'bogus'"),
    ("wrong-datatype", "POST", INFER, _json(_tensor(datatype="FP64")), JSON_CT, 400,
     "input 'float_input': expected datatype FP32, got FP64"),
    ("wrong-shape", "POST", INFER, _json(_tensor(shape=[1, 3], data=[1, 2, 3])), JSON_CT, 400,
     r"input 'float_input': expected shape \[-1, 4\], got \[1, 3\]"),
    ("length-mismatch", "POST", INFER, _json(_tensor(data=[1, 2, 3])), JSON_CT, 400,
     r"input 'float_input': shape \[1, 4\] needs 4 elements, got 3"),
    ("unknown-output", "POST", INFER, _json(_tensor(), outputs=[{"name": "nope"}]), JSON_CT, 400,
     "unknown output 'nope'"),
    ("header-too-long", "POST", INFER, _BIN_BODY,
     {"Inference-Header-Content-Length": str(len(_BIN_BODY) + 1)}, 400,
     "Inference-Header-Content-Length is"),
    ("header-not-int", "POST", INFER, _BIN_BODY, {"Inference-Header-Content-Length": "x"}, 400,
     "must be an integer"),
    ("truncated-binary", "POST", INFER, _BIN_BODY[:-4],
     {"Inference-Header-Content-Length": str(_BIN_LEN)}, 400, "runs past the end"),
    ("binary-trailing-bytes", "POST", INFER, _BIN_BODY + b"\0" * 4,
     {"Inference-Header-Content-Length": str(_BIN_LEN)}, 400, "declare 32 bytes"),
    ("binary-without-header", "POST", INFER, _BIN_BODY,
     {"Content-Type": "application/octet-stream"}, 400, "needs the Inference-Header"),
    ("over-limit", "POST", INFER, b" " * (LIMIT + 1), JSON_CT, 413, "exceeds the limit"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "message"),
    [case[1:] for case in BAD_CASES],
    ids=[case[0] for case in BAD_CASES],
)
def test_bad_request_then_good_request(
    small_server: RuntimeServer,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    client = Client(small_server.port)
    got_status, got_headers, got_body = client.request(method, path, body or None, headers)
    assert got_status == status, got_body
    assert got_headers["Content-Type"] == "application/json"
    error = json.loads(got_body)["error"]
    assert __import__("re").search(message, error), error
    if got_headers.get("Connection") == "close":
        client.close()
        client = Client(small_server.port)
    outputs = client.infer_good()  # same connection when it was kept alive
    np.testing.assert_allclose(outputs["probabilities"], expected_linear(GOOD_X)[0], rtol=1e-6)
    client.close()


def test_oversize_body_is_refused_before_it_is_read(small_server: RuntimeServer) -> None:
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        )
        started = time.monotonic()
        reply = sock.recv(4096)
        # Answered at once: not after reading a gigabyte, nor after the socket timeout.
        assert time.monotonic() - started < SOCKET_TIMEOUT_S / 2
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in reply


def test_chunked_body_needs_content_length(small_server: RuntimeServer) -> None:
    with socket.create_connection(("127.0.0.1", small_server.port), timeout=5) as sock:
        sock.sendall(
            b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 411 ")


def test_health_metadata_and_versioned_routes(server: RuntimeServer) -> None:
    client = Client(server.port)
    assert client.get_json("/v2/health/live") == (200, {"live": True})
    assert client.get_json("/v2/health/ready") == (200, {"ready": True})
    assert client.get_json("/v2/models/iris/ready") == (200, {"ready": True})
    assert client.get_json("/v2/models/iris/versions/3/ready") == (200, {"ready": True})
    status, meta = client.get_json("/v2/models/iris/versions/3")
    assert status == 200 and meta["outputs"][1] == {
        "name": "label",
        "datatype": "INT64",
        "shape": [-1],
    }
    status, server_meta = client.get_json("/v2")
    assert status == 200 and "binary_tensor_data" in server_meta["extensions"]
    status, _, body = client.request(
        "POST", "/v2/models/iris/versions/3/infer", encode_json_request({"float_input": GOOD_X})
    )
    assert status == 200 and json.loads(body)["model_version"] == "3"
    client.close()


def test_binary_request_and_mixed_outputs(server: RuntimeServer) -> None:
    body = json.dumps(
        {
            "id": "req-1",
            "inputs": [{"name": "float_input", "datatype": "FP32", "shape": [2, 4],
                        "parameters": {"binary_data_size": GOOD_X.nbytes}}],
            "outputs": [{"name": "label"}, {"name": "probabilities",
                                            "parameters": {"binary_data": True}}],
        }
    ).encode()  # fmt: skip
    client = Client(server.port)
    status, headers, reply = client.request(
        "POST",
        INFER,
        body + GOOD_X.tobytes(),
        {
            "Inference-Header-Content-Length": str(len(body)),
            "Content-Type": "application/octet-stream",
        },
    )
    assert status == 200, reply
    length = int(headers["Inference-Header-Content-Length"])
    header = json.loads(reply[:length])
    assert header["id"] == "req-1"
    assert [o["name"] for o in header["outputs"]] == ["label", "probabilities"]
    assert "data" in header["outputs"][0] and "data" not in header["outputs"][1]
    outputs = decode_response(reply, length)
    y, label = expected_linear(GOOD_X)
    np.testing.assert_allclose(outputs["probabilities"], y, rtol=1e-6)
    np.testing.assert_array_equal(outputs["label"], label)
    client.close()


def test_concurrent_requests_are_in_flight_together(server: RuntimeServer) -> None:
    model = server.dataplane.model
    assert model is not None
    in_flight = 4
    barrier = threading.Barrier(in_flight, timeout=5)
    original = model.infer

    def waiting_infer(inputs: dict[str, np.ndarray], names: Any = None) -> dict[str, np.ndarray]:
        barrier.wait()  # only passes when `in_flight` requests are inside the model together
        return original(inputs, names)

    model.infer = waiting_infer  # type: ignore[method-assign]
    rng = np.random.default_rng(1)
    xs = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(in_flight * 3)]

    def call(x: np.ndarray) -> np.ndarray:
        client = Client(server.port)
        try:
            status, _, body = client.request("POST", INFER, encode_json_request({"float_input": x}))
            assert status == 200, body
            return decode_response(body)["probabilities"]
        finally:
            client.close()

    try:
        with ThreadPoolExecutor(max_workers=in_flight) as pool:
            results = list(pool.map(call, xs))
    finally:
        model.infer = original  # type: ignore[method-assign]
    for x, y in zip(xs, results, strict=True):
        np.testing.assert_allclose(y, expected_linear(x)[0], rtol=1e-5)


def test_slow_client_is_dropped_and_does_not_block_others(small_server: RuntimeServer) -> None:
    slow = socket.create_connection(("127.0.0.1", small_server.port), timeout=5)
    slow.sendall(b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    started = time.monotonic()
    client = Client(small_server.port)
    client.infer_good()  # served while the slow client stalls
    assert time.monotonic() - started < SOCKET_TIMEOUT_S / 2
    client.close()
    assert slow.recv(1024) == b""  # the server hung up: the socket timeout elapsed
    assert SOCKET_TIMEOUT_S * 0.9 < time.monotonic() - started < SOCKET_TIMEOUT_S * 3
    slow.close()


def test_ready_only_after_warm_up(linear_config: RuntimeConfig) -> None:
    release = threading.Event()
    srv = RuntimeServer(linear_config, before_ready=lambda: release.wait(10) and None)
    srv.start()
    loader = threading.Thread(target=srv.load)
    loader.start()
    client = Client(srv.port)
    try:
        assert client.get_json("/v2/health/live") == (200, {"live": True})
        assert client.get_json("/v2/health/ready") == (503, {"ready": False})
        assert client.get_json("/v2/models/iris/ready") == (503, {"ready": False})
        status, _, body = client.request(
            "POST", INFER, encode_json_request({"float_input": GOOD_X})
        )
        assert status == 503 and "loading" in json.loads(body)["error"]
        release.set()
        loader.join(5)
        assert client.get_json("/v2/health/ready") == (200, {"ready": True})
        client.infer_good()
    finally:
        release.set()
        client.close()
        srv.stop(grace_s=5)


def test_one_access_line_per_request_without_payload(
    server: RuntimeServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(server.port)
    with caplog.at_level("INFO", logger="modelstack_runtime.access"):
        client.request(
            "POST", INFER, encode_json_request({"float_input": GOOD_X}, request_id="abc")
        )
        client.request("POST", INFER, _json(_tensor(data=[1, 2, 3])), {"X-Request-Id": "hdr-1"})
    client.close()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name.endswith("access")]
    assert len(lines) == 2
    ok, bad = lines
    assert ok["request_id"] == "abc" and ok["status"] == 200 and ok["outcome"] == "ok"
    assert ok["model"] == "iris" and ok["model_version"] == "3" and 0 < ok["latency_ms"] < 5000
    assert ok["input_bytes"] > 0
    assert bad["request_id"] == "hdr-1" and bad["status"] == 400
    assert bad["outcome"] == "client_error" and bad["error"] == "BadRequest"
    assert "5.1" not in json.dumps(lines)  # never the payload


def test_unexpected_fault_is_500_and_server_survives(server: RuntimeServer) -> None:
    model = server.dataplane.model
    assert model is not None
    original = model.infer
    model.infer = lambda *a, **k: 1 / 0  # type: ignore[method-assign,misc,assignment,return-value]
    client = Client(server.port)
    try:
        status, _, body = client.request(
            "POST", INFER, encode_json_request({"float_input": GOOD_X})
        )
    finally:
        model.infer = original  # type: ignore[method-assign]
    assert status == 500 and json.loads(body) == {"error": "internal error: ZeroDivisionError"}
    client.infer_good()
    client.close()


def test_stop_refuses_new_connections(linear_config: RuntimeConfig) -> None:
    srv = RuntimeServer(dataclasses.replace(linear_config))
    srv.start()
    srv.load()
    port = srv.port
    assert srv.stop(grace_s=1) is True
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)
