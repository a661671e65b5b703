"""The request path's fast paths answer and refuse exactly as the straightforward forms do.

Generated inputs go through both the runtime's function and its reference form in
``wire_reference.py``: the same result, or the same error with the same message. Caches are
checked twice (the second answer comes from the cache) and for their bounds.
"""

from __future__ import annotations

import io
import json
import math
import socket
import time
from http import HTTPStatus
from typing import Any

import numpy as np
import pytest
import wire_reference as ref
from httputil import GOOD_X
from hypothesis import example, given, settings
from hypothesis import strategies as st
from runtime_models import expected_linear

from modelstack_runtime import (
    RuntimeServer,
    decode_response,
    encode_json_request,
    http_wire,
    routes,
)
from modelstack_runtime.access_line import access_line, json_string
from modelstack_runtime.codec import _dumps, _parse_json, encode_response, response_object
from modelstack_runtime.errors import InferenceError
from modelstack_runtime.json_limits import MAX_JSON_DEPTH, check_json_limits
from modelstack_runtime.logs import BufferedAccessLog
from modelstack_runtime.tensors import from_json
from modelstack_runtime.validation import check_finite

_SETTINGS = settings(max_examples=400, deadline=None, database=None)
_latin = st.text(st.characters(min_codepoint=0, max_codepoint=0xFF), max_size=12)
_names = st.sampled_from(
    ["Content-Length", "content-length", "Transfer-Encoding", "Connection", "Expect", "Host",
     "Content-Type", "X Bad", "X:Y", "", "Accept-Encoding"]
) | _latin  # fmt: skip
_values = st.sampled_from(
    ["0", "12", " 12 ", "12, 12", "12,13", "+1", "99999999999999999999", "close", "keep-alive",
     "Keep-Alive, close", "100-continue", "chunked", "\t a \t", "a\x00b", "caf\xe9", ""]
) | _latin  # fmt: skip
_separators = st.sampled_from([": ", ":", " : ", ":\t", "", "\r\n "])


_good_lines = st.sampled_from(
    ["POST /v2/models/m/infer HTTP/1.1", "GET /v2/health/ready HTTP/1.0", "OPTIONS * HTTP/1.1"]
)


@st.composite
def _any_line(draw: st.DrawFn) -> str:
    method = draw(st.sampled_from(["GET", "POST", "P OST", ""]) | _latin)
    target = draw(st.sampled_from(["/v2", "*", "x", "/a b"]) | _latin)
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", ""]) | _latin)
    return f"{method} {target} {version}"


@st.composite
def request_heads(draw: st.DrawFn) -> bytes:
    lines = [draw(st.one_of(_good_lines, _good_lines, _good_lines, _any_line()))]
    for name, sep, value in draw(st.lists(st.tuples(_names, _separators, _values), max_size=6)):
        lines.append(f"{name}{sep}{value}")
    tail = draw(st.sampled_from(["", "", "", "\r\n", "\n", "\r\nX: 1\n"]))
    return ("\r\n".join(lines) + tail).encode("latin-1")


def _outcome(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except InferenceError as exc:
        return type(exc), exc.status, exc.message


def _as_reference(head: Any) -> Any:
    if isinstance(head, http_wire.RequestHead):
        return (head.method, head.target, dict(head.headers), head.content_length,
                head.keep_alive, head.expect_continue)  # fmt: skip
    return head


@_SETTINGS
@given(raw=request_heads())
def test_head_parser_agrees_with_the_line_by_line_parser(raw: bytes) -> None:
    expected = _outcome(ref.parse_head, raw)
    assert _as_reference(_outcome(http_wire.parse_head_uncached, raw)) == expected
    assert _as_reference(_outcome(http_wire.parse_head, raw)) == expected
    assert _as_reference(_outcome(http_wire.parse_head, raw)) == expected  # from the cache


def test_head_cache_is_bounded_and_keeps_no_refusals() -> None:
    for i in range(http_wire.HEAD_CACHE_ENTRIES * 2):
        http_wire.parse_head(b"GET /v2 HTTP/1.1\r\nX-Request-Id: %d" % i)
    assert len(http_wire._cache) <= http_wire.HEAD_CACHE_ENTRIES
    bad = b"GET /v2 HTTP/1.1\r\nX Bad: 1"
    for _ in range(2):
        with pytest.raises(InferenceError, match="malformed header line"):
            http_wire.parse_head(bad)
    assert bad not in http_wire._cache
    big = b"GET /v2 HTTP/1.1\r\nX: " + b"a" * http_wire.HEAD_CACHE_BYTES
    http_wire.parse_head(big)
    assert big not in http_wire._cache


def test_cached_headers_are_read_only() -> None:
    head = http_wire.parse_head(b"POST /v2 HTTP/1.1\r\nContent-Length: 3")
    with pytest.raises(TypeError):
        head.headers["content-length"] = "4"  # type: ignore[index]


_statuses = st.sampled_from(list(HTTPStatus))
_reply_headers = st.dictionaries(
    st.sampled_from(["Content-Type", "Retry-After", "Allow", "X"]), _latin.map(str.strip)
)


@_SETTINGS
@given(status=_statuses, headers=_reply_headers, length=st.integers(0, 10**9), close=st.booleans())
def test_reply_head_agrees_with_the_plain_form(
    status: HTTPStatus, headers: dict[str, str], length: int, close: bool
) -> None:
    expected = ref.reply_head(status, headers, length, close)
    assert http_wire.reply_head(status, headers, length, close) == expected
    assert http_wire.reply_head(status, headers, length, close) == expected  # cached parts


_paths = st.sampled_from(
    ["/v2", "/v2/", "/v2/health/live", "/v2/health/ready", "/v2/models/m", "/v2/models/m/",
     "/v2/models/m/ready", "/v2/models/m/infer", "/v2/models/m/versions/1/infer",
     "/v2/models/%41/infer?x=1", "/v2/models//infer", "/nope", "*"]
) | _latin  # fmt: skip


@_SETTINGS
@given(method=st.sampled_from(["GET", "POST", "HEAD", "OPTIONS", "PUT"]), path=_paths)
def test_route_cache_agrees_with_resolving_each_time(method: str, path: str) -> None:
    expected = _outcome(routes.resolve_uncached, method, path)
    assert _outcome(routes.resolve, method, path) == expected
    assert _outcome(routes.resolve, method, path) == expected  # from the cache


def test_route_cache_is_bounded() -> None:
    for i in range(routes.ROUTE_CACHE_ENTRIES * 2):
        routes.resolve("POST", f"/v2/models/m{i}/infer")
    assert len(routes._resolved) <= routes.ROUTE_CACHE_ENTRIES


_json_bytes = st.text(alphabet='[]{},"\\:0a ', max_size=120).map(str.encode) | st.sampled_from(
    [b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b'"' + b"[" * 60 + b'"', b""]
)


@_SETTINGS
@given(data=_json_bytes, max_values=st.integers(1, 200))
def test_json_limit_shortcut_refuses_what_the_full_check_refuses(
    data: bytes, max_values: int
) -> None:
    expected = ref.json_limits_error(data, max_values)
    try:
        check_json_limits(data, max_values)
    except InferenceError as exc:
        assert type(exc) is expected
    else:
        assert expected is None


_record_text = st.text(max_size=20)


@_SETTINGS
@given(
    request_id=_record_text,
    model=_record_text,
    version=_record_text,
    status=st.sampled_from([200, 400, 404, 413, 500, 503]),
    latency=st.floats(0, 1e6, allow_nan=False),
    nbytes=st.none() | st.integers(0, 10**12),
    error=st.none() | st.sampled_from(["BadRequest", "InternalError"]),
    aws=st.none() | st.just({"Timestamp": 1, "CloudWatchMetrics": [{"Namespace": "n\u00e9"}]}),
)
def test_access_line_is_the_json_of_the_record(
    request_id: str,
    model: str,
    version: str,
    status: int,
    latency: float,
    nbytes: int | None,
    error: str | None,
    aws: dict[str, Any] | None,
) -> None:
    record: dict[str, Any] = {
        "event": "infer", "request_id": request_id, "model": model, "model_version": version,
        "status": status,
        "outcome": "ok" if error is None else ("client_error" if status < 500 else "error"),
        "latency_ms": latency, "input_bytes": nbytes,
    }  # fmt: skip
    if error is not None:
        record["error"] = error
    if aws is not None:
        record["_aws"] = aws
    line = access_line(
        request_id=request_id,
        model=json_string(model),
        model_version=json_string(version),
        status=status,
        latency_ms=latency,
        input_bytes=nbytes,
        error=error,
        aws=aws,
    )
    assert line == ref.access_record_line(record)
    assert json.loads(line) == record
    assert math.isfinite(json.loads(line)["latency_ms"])


def test_buffered_access_log_writes_every_line_in_order_on_close() -> None:
    stream = io.StringIO()
    log = BufferedAccessLog(stream, interval_s=3600.0, max_lines=1000)
    for i in range(250):
        log(f'{{"n":{i}}}')
    assert stream.getvalue() == ""  # still waiting for the background write
    log.close()
    assert [json.loads(line)["n"] for line in stream.getvalue().splitlines()] == list(range(250))
    log.close()  # idempotent


def test_buffered_access_log_writes_at_the_line_limit_itself() -> None:
    stream = io.StringIO()
    log = BufferedAccessLog(stream, interval_s=3600.0, max_lines=3)
    for i in range(7):
        log(str(i))
    assert stream.getvalue().splitlines() == ["0", "1", "2", "3", "4", "5"]
    log.close()
    assert stream.getvalue().splitlines() == [str(i) for i in range(7)]


def test_buffered_access_log_writes_in_the_background() -> None:
    stream = io.StringIO()
    log = BufferedAccessLog(stream, interval_s=0.01, max_lines=1000)
    log("first")
    for _ in range(1000):  # up to 10 s, without closing the log
        if stream.getvalue():
            break
        time.sleep(0.01)
    assert stream.getvalue() == "first\n"
    log.close()


_dtypes = st.sampled_from(["float32", "float64", "float16", "int64", "int8", "uint16", "bool"])


@st.composite
def _tensors(draw: st.DrawFn) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 3), max_size=3)))
    if draw(st.booleans()):
        size = int(np.prod(shape))
        items = draw(st.lists(st.binary(max_size=4), min_size=size, max_size=size))
        array = np.empty(size, dtype=object)
        array[:] = items
        return array.reshape(shape)
    dtype = np.dtype(draw(_dtypes))
    values = draw(
        st.lists(
            st.floats(allow_nan=True, allow_infinity=True, width=16) | st.integers(0, 1),
            min_size=int(np.prod(shape)),
            max_size=int(np.prod(shape)),
        )
    )
    with np.errstate(all="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype).reshape(shape)


@_SETTINGS
@given(
    outputs=st.dictionaries(st.sampled_from(["a", "b", "c\u00e9"]), _tensors(), max_size=3),
    request_id=st.none() | st.text(max_size=8),
)
@example(
    outputs={"a": np.array([np.nan], np.float32), "b": np.array([b"\xff"], object)}, request_id=None
)
def test_json_response_is_the_encoding_of_the_response_object(
    outputs: dict[str, np.ndarray], request_id: str | None
) -> None:
    try:
        expected: Any = _dumps(response_object("m", "1", request_id, outputs))
    except InferenceError as exc:
        expected = (type(exc), exc.message)
    try:
        got: Any = encode_response("m", "1", request_id, outputs)[0]
    except InferenceError as exc:
        got = (type(exc), exc.message)
    assert got == expected


@_SETTINGS
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=100),
    dtype=st.sampled_from(["float16", "float32", "float64"]),
)
def test_small_finite_check_agrees_with_numpy(values: list[float], dtype: str) -> None:
    with np.errstate(all="ignore"):
        array = np.array(values, dtype=np.float64).astype(dtype)
    finite = bool(np.isfinite(array).all())
    try:
        check_finite("x", array.reshape(1, -1)[:, ::-1])  # not contiguous, either
    except InferenceError as exc:
        assert not finite and "NaN or Infinity" in exc.message
    else:
        assert finite


@_SETTINGS
@given(
    values=st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=8),
    dtype=st.sampled_from(["float16", "float32", "float64"]),
    shape=st.lists(st.integers(0, 4), max_size=3),
)
def test_flat_float_data_decodes_as_the_general_path(
    values: list[float], dtype: str, shape: list[int]
) -> None:
    def decode(data: Any) -> Any:
        try:
            with np.errstate(all="ignore"):
                return from_json("x", "FP32", np.dtype(dtype), tuple(shape), data, "input")
        except InferenceError as exc:
            return exc.message

    fast, general = decode(values), decode([values])  # a nested list takes the general path
    if isinstance(general, str):
        assert fast == general
    else:
        assert isinstance(fast, np.ndarray)
        assert fast.dtype == general.dtype and fast.shape == general.shape
        assert fast.tobytes() == general.tobytes()


def _read_replies(sock: socket.socket, count: int) -> list[tuple[bytes, bytes]]:
    data, replies = b"", []
    while len(replies) < count:
        head_end = data.find(b"\r\n\r\n")
        if head_end >= 0:
            head = data[:head_end]
            length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            if len(data) >= head_end + 4 + length:
                replies.append((head, data[head_end + 4 : head_end + 4 + length]))
                data = data[head_end + 4 + length :]
                continue
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {len(replies)} replies"
        data += chunk
    return replies


def test_heads_arriving_whole_with_bodies_blank_lines_and_pipelining(
    server: RuntimeServer,
) -> None:
    body = encode_json_request({"float_input": GOOD_X})
    infer = (
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(infer)  # head and body in one segment: the single-recv path
        sock.sendall(b"\r\n\r\n" + infer + infer)  # blank lines, then two pipelined requests
        sock.sendall(b"GET /v2/health/ready HTTP/1.1\r\nX Bad: 1\r\n\r\n")
        replies = _read_replies(sock, 4)
    for head, payload in replies[:3]:
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert decode_response(payload)["label"].tolist() == expected_linear(GOOD_X)[1].tolist()
    head, payload = replies[3]
    assert head.startswith(b"HTTP/1.1 400 ") and b"malformed header line" in payload


_json_texts = st.sampled_from(['{"a": [1, 2.5]}', "{", '{"a": "\\ud800"}', "{}", "{ }x", "[1]"])


@_SETTINGS
@given(
    data=st.binary(max_size=12).map(lambda tail: b"{" + tail)
    | st.tuples(_json_texts, st.sampled_from(["utf-8", "utf-16-le", "utf-16", "utf-32"])).map(
        lambda pair: pair[0].encode(pair[1], "surrogatepass")
    )
    | st.binary(max_size=12)
)
def test_json_parse_agrees_with_json_loads(data: bytes) -> None:
    try:
        expected: Any = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        expected = f"malformed JSON in request: {exc}"
    try:
        got: Any = _parse_json(data, "request")
    except InferenceError as exc:
        got = exc.message
    assert got == expected
