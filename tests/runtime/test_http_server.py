from __future__ import annotations

import contextlib
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
from httputil import GOOD_X, Client
from runtime_models import expected_linear, linear_model, write_config

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
    reply = slow.recv(4096)  # the socket timeout elapsed: a JSON 408, then the server hangs up
    assert reply.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in reply
    assert "request_timeout_s" in json.loads(reply.partition(b"\r\n\r\n")[2])["error"]
    assert slow.recv(1024) == b""
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


# --- hardening: client-triggered 5xx, memory, framing, methods, deadlines ---------------------


def _raw(port: int, request: bytes, timeout: float = 10.0) -> tuple[bytes, Any, bytes]:
    """Send raw bytes; the status line, the parsed JSON body (or None) and the full reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
        head, _, rest = reply.partition(b"\r\n\r\n")
        length = int(next(
            (line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(
                b"content-length:")), b"0"))  # fmt: skip
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    status = head.split(b"\r\n", 1)[0]
    return status, json.loads(rest[:length]) if rest[:length] else None, reply


def _infer_once(port: int) -> dict[str, np.ndarray]:
    client = Client(port)
    try:
        return client.infer_good()
    finally:
        client.close()


def _post(body: bytes, *extra: bytes) -> bytes:
    return (
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"".join(line + b"\r\n" for line in extra)
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


CLIENT_5XX_CASES = [
    ("huge-dimension", _json(_tensor(shape=[9223372036854775808, 0], data=[])),
     "describes more than"),
    ("rank-100", _json(_tensor(shape=[1] * 100, data=[1])), "100 dimensions; at most 32"),
    ("nested-3000", b'{"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [1],'
     b' "data": ' + b"[" * 3000 + b"]" * 3000 + b"}]}", "nests deeper than 40 levels"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "message"), [c[1:] for c in CLIENT_5XX_CASES], ids=[c[0] for c in CLIENT_5XX_CASES]
)
def test_malformed_tensors_are_400_not_500(
    server: RuntimeServer, body: bytes, message: str
) -> None:
    status, reply, _ = _raw(server.port, _post(body))
    assert status.startswith(b"HTTP/1.1 400 "), reply
    assert message in reply["error"]
    _infer_once(server.port)


def test_many_json_values_are_refused_before_parsing(linear_config: RuntimeConfig) -> None:
    config = dataclasses.replace(linear_config, max_json_values=1000)
    with RuntimeServer(config) as srv:
        srv.load()
        body = b'{"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [0, 4], ' \
            b'"data": [' + b",".join([b"[]"] * 5000) + b"]}]}"  # fmt: skip
        status, reply, _ = _raw(srv.port, _post(body))
        assert status.startswith(b"HTTP/1.1 413 ")
        assert "more than 1000 values" in reply["error"] and "max_json_values" in reply["error"]


def test_requests_past_max_concurrency_get_503_with_retry_after(
    linear_config: RuntimeConfig,
) -> None:
    config = dataclasses.replace(linear_config, max_concurrency=2)
    with RuntimeServer(config) as srv:
        srv.load()
        model = srv.dataplane.model
        assert model is not None
        inside, release = threading.Barrier(3, timeout=10), threading.Event()
        original = model.infer

        def held_infer(inputs: dict[str, np.ndarray], names: Any = None) -> dict[str, np.ndarray]:
            inside.wait()
            release.wait(10)
            return original(inputs, names)

        model.infer = held_infer  # type: ignore[method-assign]
        with ThreadPoolExecutor(max_workers=2) as pool:
            held = [pool.submit(_infer_once, srv.port) for _ in range(2)]
            inside.wait()  # both slots are taken
            status, reply, raw = _raw(srv.port, _post(encode_json_request({"float_input": GOOD_X})))
            assert status.startswith(b"HTTP/1.1 503 ") and b"\r\nRetry-After: 1\r\n" in raw
            assert "max_concurrency" in reply["error"]
            health = Client(srv.port)
            assert health.get_json("/v2/health/ready") == (200, {"ready": True})  # no slot needed
            health.close()
            release.set()
            for future in held:
                future.result(10)
        model.infer = original  # type: ignore[method-assign]
        _infer_once(srv.port)  # slots are back


def test_connections_past_max_connections_get_503(linear_config: RuntimeConfig) -> None:
    config = dataclasses.replace(linear_config, max_connections=2)
    with RuntimeServer(config) as srv:
        srv.load()
        first, second = Client(srv.port), Client(srv.port)
        first.infer_good()
        second.infer_good()
        status, reply, raw = _raw(srv.port, b"")
        assert status.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 1" in raw
        assert "max_connections" in reply["error"]
        first.close()
        second.close()


FRAMING_CASES = [
    ("te-and-cl", b"Transfer-Encoding: chunked", "both Transfer-Encoding and Content-Length"),
    ("two-lengths", b"Content-Length: 5", "invalid Content-Length"),
]


@pytest.mark.parametrize(
    ("extra", "message"), [c[1:] for c in FRAMING_CASES], ids=[c[0] for c in FRAMING_CASES]
)
def test_ambiguous_framing_is_400_and_closes(
    small_server: RuntimeServer, extra: bytes, message: str
) -> None:
    body = _json(_tensor())
    status, reply, raw = _raw(small_server.port, _post(body, extra) + _post(body))
    assert status.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in raw
    assert message in reply["error"]
    assert raw.count(b"HTTP/1.1 ") == 1  # the smuggled second request was not answered


@pytest.mark.parametrize("length", [b"+1_0", b"1_0", b" 0x0a", b"1e1", b"-1", "\u0661".encode()])
def test_content_length_is_parsed_strictly(small_server: RuntimeServer, length: bytes) -> None:
    request = (
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
        + b"\r\n\r\n" + b"x" * 10
    )  # fmt: skip
    status, reply, raw = _raw(small_server.port, request)
    assert status.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in raw
    assert "Content-Length" in reply["error"]


@pytest.mark.parametrize("method", [b"GET", b"POST"])
def test_a_huge_content_length_is_413_before_any_allocation(
    small_server: RuntimeServer, method: bytes
) -> None:
    for length in (b"1000000000000", b"99999999999999999999999"):
        request = method + b" /v2/health/ready HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n"
        if method == b"POST":
            request = request.replace(b"/v2/health/ready", INFER.encode())
        status, reply, raw = _raw(small_server.port, request)
        assert status.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in raw
        assert "exceeds the limit" in reply["error"]
    _infer_once(small_server.port)


def test_head_and_options(server: RuntimeServer) -> None:
    _, _, get = _raw(server.port, b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"HEAD /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(b"OPTIONS /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        both = sock.recv(65536)
    head_reply, _, options_reply = both.partition(b"\r\n\r\n")
    assert head_reply + b"\r\n\r\n" == get.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"  # no body
    assert options_reply.startswith(b"HTTP/1.1 204 ") and b"Content-Length" not in options_reply
    assert b"Allow: OPTIONS, POST\r\n" in options_reply
    _, _, star = _raw(server.port, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Allow: GET, HEAD, OPTIONS, POST\r\n" in star
    status, reply, raw = _raw(server.port, b"DELETE /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 405 ") and b"Allow: GET, HEAD, OPTIONS\r\n" in raw
    assert "DELETE is not allowed" in reply["error"]


@pytest.mark.parametrize(
    "request_bytes",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/2.0\r\n\r\n", b"GET /v2 HTTP/1.1\r\nBad Header: x\r\n\r\n",
     b"GET /v2 HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", b"GET /v2 HTTP/1.1\r\nX: \x01\r\n\r\n",
     b"GET /v2 HTTP/1.1\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n"],
    ids=["request-line", "version", "space-in-name", "folded", "control", "too-large"],
)  # fmt: skip
def test_malformed_heads_get_a_json_4xx(small_server: RuntimeServer, request_bytes: bytes) -> None:
    status, reply, raw = _raw(small_server.port, request_bytes)
    assert status.split(b" ")[1] in (b"400", b"431"), raw[:200]
    assert b"Content-Type: application/json" in raw and isinstance(reply["error"], str)


def test_blank_lines_count_against_the_request_deadline(linear_config: RuntimeConfig) -> None:
    config = dataclasses.replace(linear_config, request_timeout_s=1.0, socket_timeout_s=5.0)
    with RuntimeServer(config) as srv:
        srv.load()
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        reply = b""
        for _ in range(200):  # 10 s of CRLFs at most; the deadline is 1 s
            try:
                sock.sendall(b"\r\n")
            except OSError:
                break
            time.sleep(0.05)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                reply += sock.recv(4096)
            sock.setblocking(True)
            if reply:
                break
        sock.close()
        assert reply.startswith(b"HTTP/1.1 408 ")


def test_trickling_client_is_cut_off_by_the_total_deadline(linear_config: RuntimeConfig) -> None:
    config = dataclasses.replace(linear_config, request_timeout_s=1.0, socket_timeout_s=5.0)
    with RuntimeServer(config) as srv:
        srv.load()
        body = encode_json_request({"float_input": GOOD_X})
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        sock.sendall(_post(body)[: -len(body)])
        sent = 0
        reply = b""
        for byte in body:  # one byte every 50 ms: each read is quick, the request is not
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            sent += 1
            time.sleep(0.05)
            sock.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                reply += sock.recv(4096)
            sock.setblocking(True)
            if reply:
                break
        sock.close()
        assert sent < len(body)  # cut off long before the body was complete
        assert reply.startswith(b"HTTP/1.1 408 ")


def test_stop_cuts_off_a_trickling_client(linear_config: RuntimeConfig) -> None:
    srv = RuntimeServer(dataclasses.replace(linear_config, request_timeout_s=600.0))
    srv.start()
    srv.load()
    body = encode_json_request({"float_input": GOOD_X})
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sock.sendall(_post(body)[: -len(body)] + body[:1])
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(srv.stop(grace_s=60)))
    stopper.start()
    for byte in body[1:]:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            break
        time.sleep(0.05)
        if not stopper.is_alive():
            break
    stopper.join(60)
    sock.close()
    assert stopped == [True]  # drained: the trickler did not hold stop() for its grace period


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_non_finite_inputs_are_refused_by_default(
    linear_config: RuntimeConfig, literal: bytes
) -> None:
    body = b'{"inputs": [{"name": "float_input", "datatype": "FP32", "shape": [1, 4], ' \
        b'"data": [1, 2, 3, ' + literal + b"]}]}"  # fmt: skip
    for allow in (False, True):
        with RuntimeServer(dataclasses.replace(linear_config, allow_non_finite=allow)) as srv:
            srv.load()
            status, reply, raw = _raw(srv.port, _post(body))
            if not allow:
                assert status.startswith(b"HTTP/1.1 400 ")
                assert "NaN or Infinity" in reply["error"] and "allow_non_finite" in reply["error"]
            else:  # accepted, and the NaN result cannot be JSON: a 400 that says so, never NaN
                payload = raw.partition(b"\r\n\r\n")[2]
                json.loads(payload, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
                assert status.startswith((b"HTTP/1.1 200 ", b"HTTP/1.1 400 "))
