from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelstack_runtime import (
    V2_TO_NUMPY,
    BadRequest,
    InferenceError,
    decode_request,
    decode_response,
    encode_binary_request,
    encode_json_request,
    encode_response,
    read_response,
)
from modelstack_runtime.codec import RequestedOutput, decode_request_object

NUMERIC = [name for name in V2_TO_NUMPY if name != "BYTES"]


def _arrays(datatype: str) -> st.SearchStrategy[np.ndarray]:
    shape = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)
    if datatype == "BYTES":
        text = st.binary(max_size=8)
        return shape.flatmap(
            lambda s: st.lists(text, min_size=int(np.prod(s)), max_size=int(np.prod(s))).map(
                lambda items: _object_array(items, s)
            )
        )
    return hnp.arrays(V2_TO_NUMPY[datatype], shape)


def _object_array(items: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array.reshape(shape)


tensors = st.sampled_from(sorted(V2_TO_NUMPY)).flatmap(_arrays)


def assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape
    assert got.dtype == V2_TO_NUMPY[_datatype(want)]
    np.testing.assert_array_equal(got, want)


def _datatype(array: np.ndarray) -> str:
    from modelstack_runtime.datatypes import datatype_of

    return datatype_of(array.dtype)


@settings(max_examples=150, deadline=None)
@given(a=tensors, b=tensors, binary=st.booleans())
def test_request_round_trip(a: np.ndarray, b: np.ndarray, binary: bool) -> None:
    inputs = {"a": a, "b": b}
    if binary:
        body, length = encode_binary_request(inputs, request_id="r1")
        request = decode_request(body, length)
    else:
        if (a.dtype == object and any(not _utf8(x) for x in a.ravel())) or (
            b.dtype == object and any(not _utf8(x) for x in b.ravel())
        ):
            with pytest.raises(BadRequest, match="non-UTF-8"):
                encode_json_request(inputs)
            return
        if not (_finite(a) and _finite(b)):
            with pytest.raises(BadRequest, match="NaN or Infinity, which JSON cannot carry"):
                encode_json_request(inputs)
            return
        request = decode_request(encode_json_request(inputs, request_id="r1"))
    assert request.id == "r1"
    assert list(request.inputs) == ["a", "b"]
    assert_same(request.inputs["a"], a)
    assert_same(request.inputs["b"], b)


def _finite(array: np.ndarray) -> bool:
    return array.dtype.kind != "f" or bool(np.isfinite(array).all())


def _utf8(item: bytes) -> bool:
    try:
        item.decode()
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=100, deadline=None)
@given(a=tensors, b=tensors, which=st.sets(st.sampled_from(["a", "b"])))
def test_response_round_trip_with_any_binary_subset(
    a: np.ndarray, b: np.ndarray, which: set[str]
) -> None:
    for name in ("a", "b"):
        array = a if name == "a" else b
        if name not in which and (array.dtype == object or not _finite(array)):
            which.add(name)  # arbitrary bytes, NaN and infinities need the binary form
    body, length = encode_response("m", "1", "id-7", {"a": a, "b": b}, binary=which)
    assert (length is None) == (not which)
    response = read_response(body, length)
    assert (response.model_name, response.model_version, response.id) == ("m", "1", "id-7")
    assert_same(response.outputs["a"], a)
    assert_same(response.outputs["b"], b)


@settings(max_examples=100, deadline=None)
@given(
    datatype=st.sampled_from(NUMERIC),
    shape=st.lists(st.integers(0, 5), max_size=3),
    count=st.integers(0, 40),
)
def test_json_length_mismatch_is_always_rejected(
    datatype: str, shape: list[int], count: int
) -> None:
    data = [1] * count if datatype != "BOOL" else [True] * count
    body = json.dumps(
        {"inputs": [{"name": "x", "datatype": datatype, "shape": shape, "data": data}]}
    ).encode()
    if count == int(np.prod(shape)):
        assert decode_request(body).inputs["x"].shape == tuple(shape)
    else:
        with pytest.raises(BadRequest, match=f"input 'x': shape .* needs .* got {count}"):
            decode_request(body)


@settings(max_examples=100, deadline=None)
@given(
    datatype=st.sampled_from(NUMERIC),
    shape=st.lists(st.integers(0, 5), max_size=3),
    nbytes=st.integers(0, 200),
)
def test_binary_length_mismatch_is_always_rejected(
    datatype: str, shape: list[int], nbytes: int
) -> None:
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "datatype": datatype,
                    "shape": shape,
                    "parameters": {"binary_data_size": nbytes},
                }
            ]
        }
    ).encode()
    body = header + b"\x00" * nbytes
    if nbytes == int(np.prod(shape)) * V2_TO_NUMPY[datatype].itemsize:
        assert decode_request(body, len(header)).inputs["x"].shape == tuple(shape)
    else:
        with pytest.raises(BadRequest, match=f"input 'x': shape .* needs .* bytes, got {nbytes}"):
            decode_request(body, len(header))


def _request(**tensor: Any) -> bytes:
    entry = {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0], **tensor}
    return json.dumps({"inputs": [entry]}).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "malformed JSON in request"),
        (b"\xff\xfe", "malformed JSON in request"),
        (b"[]", "request must be a JSON object"),
        (b"{}", "non-empty 'inputs' list"),
        (_request(datatype="FLOAT"), "unknown datatype 'FLOAT'"),
        (_request(data=["a", "b"]), "FP32 data contains strings"),
        (_request(datatype="INT64", data=[1.5, 2]), "INT64 data contains non-integer numbers"),
        (_request(datatype="UINT8", data=[1, 300]), r"value out of UINT8 range \[0, 255\]"),
        (_request(datatype="UINT8", data=[-1, 3]), "value out of UINT8 range"),
        (_request(datatype="BOOL", data=[1, 0]), "BOOL data contains"),
        (_request(data=[[1.0], [2.0, 3.0]]), "ragged nested list"),
        (_request(data=[1.0, None]), "FP32 data contains mixed values"),
        (_request(shape=[1, -2]), "shape must be a list of non-negative integers"),
        (_request(datatype="BYTES", data=[1, 2]), "BYTES data must be strings"),
        (json.dumps({"inputs": [{"name": "x"}]}).encode(), "needs a 'datatype' string"),
        (
            json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [0]}]}).encode(),
            "has neither 'data' nor binary_data_size",
        ),
        (
            json.dumps(
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [0], "data": []}] * 2}
            ).encode(),
            "appears more than once",
        ),
        (
            _request(parameters={"binary_data_size": 8}),
            "has both 'data' and binary_data_size",
        ),
        (
            json.dumps(
                {
                    "inputs": [
                        {
                            "name": "x",
                            "datatype": "FP32",
                            "shape": [2],
                            "parameters": {"binary_data_size": 8},
                        }
                    ]
                }
            ).encode(),
            "body has no binary section",
        ),
    ],
)
def test_malformed_requests_name_the_problem(body: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        decode_request(body)


def test_json_values_are_exact() -> None:
    big = [2**64 - 1, 1]
    request = decode_request(_request(datatype="UINT64", shape=[2], data=big))
    assert request.inputs["x"].tolist() == big
    nested = decode_request(_request(shape=[2, 1], data=[[1.5], [2.5]]))
    assert nested.inputs["x"].tolist() == [[1.5], [2.5]]
    scalar = decode_request(_request(shape=[], data=3.0))
    assert scalar.inputs["x"].shape == () and float(scalar.inputs["x"]) == 3.0


def test_binary_framing_errors() -> None:
    x = np.arange(4, dtype=np.float32)
    body, length = encode_binary_request({"x": x})
    with pytest.raises(BadRequest, match="Inference-Header-Content-Length is 9999"):
        decode_request(body, 9999)
    with pytest.raises(BadRequest, match="runs past the end of the binary data"):
        decode_request(body[:-1], length)  # truncated
    with pytest.raises(BadRequest, match="declare 16 bytes but the body carries 17"):
        decode_request(body + b"\x00", length)
    with pytest.raises(BadRequest, match="malformed JSON"):
        decode_request(body, length - 1)


def test_binary_bytes_elements_are_length_prefixed() -> None:
    items = np.array([b"ab", b"", "é".encode()], dtype=object)
    body, length = encode_binary_request({"s": items})
    assert body[length:] == struct.pack("<I", 2) + b"ab" + struct.pack("<I", 0) + (
        struct.pack("<I", 2) + "é".encode()
    )
    assert decode_request(body, length).inputs["s"].tolist() == [b"ab", b"", "é".encode()]
    with pytest.raises(BadRequest, match="ends inside a length prefix"):
        size = len(body) - length
        header = body[:length].replace(
            f'"binary_data_size":{size}'.encode(), f'"binary_data_size":{size + 2}'.encode()
        )
        decode_request(header + body[length:] + b"\x01\x00", len(header))


def test_request_outputs_and_parameters() -> None:
    body = encode_json_request(
        {"x": np.zeros(1, np.float32)}, outputs=["y", "z"], binary_outputs=True
    )
    request = decode_request(body)
    assert request.outputs == (RequestedOutput("y", True), RequestedOutput("z", True))
    plain = decode_request(encode_json_request({"x": np.zeros(1, np.float32)}))
    assert plain.outputs is None and plain.binary_data_output is False
    all_binary = decode_request_object(
        {"inputs": json.loads(plain_body())["inputs"], "parameters": {"binary_data_output": True}}
    )
    assert all_binary.binary_data_output is True


def plain_body() -> bytes:
    return encode_json_request({"x": np.zeros(1, np.float32)})


def test_client_helpers_decode_json_and_binary_responses() -> None:
    outputs = {"y": np.array([[1.5, 2.0]], np.float32), "label": np.array([3], np.int64)}
    body, length = encode_response("m", "1", None, outputs)
    assert length is None
    assert "id" not in json.loads(body)
    decoded = decode_response(body)
    np.testing.assert_array_equal(decoded["y"], outputs["y"])
    body, length = encode_response("m", "1", None, outputs, binary=["y"])
    assert length is not None
    assert json.loads(body[:length])["outputs"][1]["data"] == [3]
    np.testing.assert_array_equal(decode_response(body, length)["label"], outputs["label"])


def test_error_response_raises() -> None:
    with pytest.raises(InferenceError, match="server answered with an error: boom"):
        decode_response(b'{"error": "boom"}')


@pytest.mark.parametrize("value", ["false", "true", 1, 0, None])
def test_binary_flags_must_be_booleans(value: Any) -> None:
    x = {"name": "x", "datatype": "FP32", "shape": [1], "data": [1.0]}
    for request in (
        {"inputs": [x], "parameters": {"binary_data_output": value}},
        {"inputs": [x], "outputs": [{"name": "y", "parameters": {"binary_data": value}}]},
    ):
        if value is None:
            decode_request(json.dumps(request).encode())  # absent means the default
            continue
        with pytest.raises(BadRequest, match="must be true or false"):
            decode_request(json.dumps(request).encode())


def test_non_finite_outputs_are_never_bare_nan_in_json() -> None:
    y = np.array([np.nan, np.inf, 1.0], dtype=np.float32)
    with pytest.raises(BadRequest, match=r"tensor 'y' holds NaN or Infinity.*binary_data"):
        encode_response("m", "1", None, {"y": y})
    body, length = encode_response("m", "1", None, {"y": y}, binary=["y"])
    np.testing.assert_array_equal(read_response(body, length).outputs["y"], y)
