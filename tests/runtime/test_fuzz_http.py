"""A bounded fuzz of the runtime's HTTP parser and v2 decoder against a real server process.

Hypothesis generates malformed requests (broken request lines and headers, conflicting
framing, truncated and oversize bodies) and malformed v2 bodies (wrong types, shapes and
datatypes, deep or wide JSON, bad binary sections). For each: no 5xx, every error body is a
JSON object; after each batch the server is still ready and its resident memory stays under
``RSS_LIMIT_MB``. The budget is ``MODELSTACK_FUZZ_SECONDS`` (default 60) split between both.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runtime_models import linear_model, write_config
from test_process import REPO, _free_port, _wait_ready

BUDGET_S = float(os.environ.get("MODELSTACK_FUZZ_SECONDS", "60"))
RSS_LIMIT_MB = 400
BATCH = 40

_FUZZ = settings(
    max_examples=BATCH,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    directory: Path = tmp_path_factory.mktemp("fuzz")
    config = write_config(
        directory,
        linear_model(),
        max_request_bytes=256 * 1024,
        socket_timeout_s=1.0,
        request_timeout_s=2.0,
        max_json_values=20_000,
    )
    port = _free_port()
    env = dict(
        os.environ,
        MODELSTACK_RUNTIME_CONFIG=str(config),
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelstack_runtime"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(port, proc)
        yield port, proc.pid
    finally:
        proc.kill()
        proc.wait(10)


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)  # no more bytes: the server need not wait for them
        except OSError:
            pass  # the server closed early (it refused the head): read what it said
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def _check_reply(reply: bytes, head_only: bool = False) -> None:
    """Every reply on the connection is below 500, and every error body is a JSON object.

    A reply to a valid HEAD has no body (its Content-Length is that of the GET reply); one to a
    malformed request that starts with HEAD has, since the server cannot trust the method.
    """
    rest = reply
    while rest:
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"reply without a complete head: {head[:200]!r}"
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        assert status < 500, reply[:500]
        fields = dict(line.split(b": ", 1) for line in lines[1:])
        length = int(fields.get(b"Content-Length", b"0"))
        if head_only and not rest.startswith(b"{"):
            length = 0
        body, rest = rest[:length], rest[length:]
        if status >= 400 and (length or not head_only):
            assert isinstance(json.loads(body)["error"], str)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):  # the peak resident set size
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


def _run_for(budget_s: float, port: int, pid: int, case: Callable[[], None]) -> int:
    stop = time.monotonic() + budget_s
    batches = 0
    while time.monotonic() < stop or batches == 0:
        case()
        batches += 1
        status, body = _ready(port)
        assert status == 200, body
        assert _rss_mb(pid) < RSS_LIMIT_MB
    return batches


def _ready(port: int) -> tuple[int, bytes]:
    reply = _exchange(port, b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n")
    return int(reply.split(b" ")[1]), reply.partition(b"\r\n\r\n")[2]


# --- the HTTP parser -------------------------------------------------------------------------

_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=20)
_methods = st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT", "get", "", "P OST"]) | _text
_targets = st.sampled_from(
    ["/v2", "/v2/health/ready", "/v2/models/iris", "/v2/models/iris/infer", "*",
     "/v2/models/%ff/infer", "http://x/v2", "/v2/models/iris/versions/3/infer"]
) | _text  # fmt: skip
_versions = st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1 ", ""]) | _text
_lengths = st.sampled_from(["0", "4", "+1_0", "-1", "1e3", "99999999999999999999", "10, 11"])
_header_names = st.sampled_from(
    ["Content-Length", "Transfer-Encoding", "Connection", "Expect", "Content-Type",
     "Inference-Header-Content-Length", "Content-Encoding", "Host", "X Bad", ""]
) | _text  # fmt: skip
_header_values = _lengths | st.sampled_from(
    ["chunked", "close", "keep-alive", "100-continue", "application/json", "gzip", "\x00"]
) | _text  # fmt: skip
_headers = st.lists(st.tuples(_header_names, _header_values), max_size=8)
_bodies = st.binary(max_size=300) | st.sampled_from([b'{"inputs": []}', b"{", b"\r\n\r\n"])


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


@st.composite
def http_requests(draw: st.DrawFn) -> bytes:
    line = " ".join([draw(_methods), draw(_targets), draw(_versions)])
    head = [_encode(line)] + [_encode(f"{n}: {v}") for n, v in draw(_headers)]
    raw = b"\r\n".join(head) + draw(st.sampled_from([b"\r\n\r\n", b"\r\n", b"\n\n", b""]))
    return raw + draw(_bodies)


def test_http_parser_fuzz(fuzz_server: tuple[int, int]) -> None:
    port, pid = fuzz_server

    @_FUZZ
    @given(request=http_requests() | st.binary(max_size=400))
    def case(request: bytes) -> None:
        _check_reply(_exchange(port, request), head_only=request.startswith(b"HEAD "))

    assert _run_for(BUDGET_S / 2, port, pid, case) >= 1


# --- the v2 decoder --------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | _text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=30,
)
_shapes = st.lists(
    st.integers(-2, 5) | st.sampled_from([2**31, 2**63, 2**64]), max_size=6
) | st.sampled_from([[1] * 40, [0, 2**62, 2**62]]) | _json  # fmt: skip
_tensor = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["float_input", "x"]) | _text,
        "datatype": st.sampled_from(["FP32", "FP64", "INT64", "BYTES", "BOOL", "fp32"]) | _json,
        "shape": _shapes,
    },
    optional={
        "data": _json | st.lists(st.floats(width=32), max_size=8),
        "parameters": st.fixed_dictionaries({}, optional={"binary_data_size": _json}) | _json,
    },
)
_request = st.fixed_dictionaries(
    {"inputs": st.lists(_tensor, max_size=3) | _json},
    optional={
        "id": _json,
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["probabilities", "label"]) | _json},
                optional={"parameters": st.fixed_dictionaries({"binary_data": _json}) | _json},
            ),
            max_size=3,
        ) | _json,
        "parameters": st.fixed_dictionaries({"binary_data_output": _json}) | _json,
    },
)  # fmt: skip


@st.composite
def v2_bodies(draw: st.DrawFn) -> tuple[bytes, int | None]:
    header = json.dumps(draw(_request)).encode()
    kind = draw(st.sampled_from(["json", "deep", "wide", "binary"]))
    if kind == "deep":
        depth = draw(st.integers(30, 5000))
        header = header[:-1] + b', "z": ' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "wide":
        header = header[:-1] + b', "z": [' + b",".join([b"[]"] * 30_000) + b"]}"
    if kind != "binary":
        return header, None
    tail = draw(st.binary(max_size=64))
    return header + tail, draw(st.integers(-5, len(header) + len(tail) + 5))


def _infer_request(body: bytes, header_length: int | None) -> bytes:
    extra = (
        b""
        if header_length is None
        else b"Inference-Header-Content-Length: %d\r\n" % (header_length)
    )
    return (
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body
    )  # fmt: skip


def test_v2_decoder_fuzz(fuzz_server: tuple[int, int]) -> None:
    port, pid = fuzz_server

    @_FUZZ
    @given(body=v2_bodies())
    def case(body: tuple[bytes, int | None]) -> None:
        reply = _exchange(port, _infer_request(*body))
        _check_reply(reply)

    assert _run_for(BUDGET_S / 2, port, pid, case) >= 1
