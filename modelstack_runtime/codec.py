"""Open Inference Protocol (KServe v2) messages <-> numpy arrays. Pure functions, no transport.

Two wire forms are supported, for requests and responses alike:

* JSON: every tensor carries ``data`` (flat or nested lists).
* The binary tensor data extension: the body is a JSON header of ``header_length`` bytes
  (sent as the ``Inference-Header-Content-Length`` HTTP header) followed by the raw tensor
  bytes, in the order of the tensors whose ``parameters.binary_data_size`` gives their size.
  Numbers are little-endian; each ``BYTES`` element is a 4-byte little-endian length + bytes.

Server side: :func:`decode_request`, :func:`encode_response`, :func:`response_object`.
Client side: :func:`encode_json_request`, :func:`encode_binary_request`, :func:`decode_response`,
:func:`read_response`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

import numpy as np

from modelstack_runtime.datatypes import datatype_of, numpy_dtype
from modelstack_runtime.errors import BadRequest, InferenceError
from modelstack_runtime.json_limits import check_json_limits
from modelstack_runtime.tensors import (
    from_binary,
    from_json,
    json_entry,
    to_bytes,
    to_json,
)
from modelstack_runtime.validation import parse_shape

__all__ = [
    "HEADER_LENGTH_HEADER",
    "InferRequest",
    "InferResponse",
    "RequestedOutput",
    "decode_request",
    "decode_request_object",
    "decode_response",
    "encode_binary_request",
    "encode_json_request",
    "encode_response",
    "read_response",
    "response_object",
]

HEADER_LENGTH_HEADER: Final = "Inference-Header-Content-Length"


class RequestedOutput(NamedTuple):
    """An entry of a request's ``outputs``; ``binary`` None means the request's default."""

    name: str
    binary: bool | None = None


class InferRequest(NamedTuple):
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: tuple[RequestedOutput, ...] | None  # None: every output of the model
    binary_data_output: bool = False


class InferResponse(NamedTuple):
    model_name: str
    model_version: str | None
    id: str | None
    outputs: dict[str, np.ndarray]


# --- server side ---------------------------------------------------------------------------


_DEFAULT_MAX_JSON_VALUES: Final = 1024 * 1024


def decode_request(
    body: bytes,
    header_length: int | None = None,
    *,
    max_json_values: int = _DEFAULT_MAX_JSON_VALUES,
) -> InferRequest:
    """Parse a request body (JSON, or JSON header + binary tensor data).

    The JSON part is bounded before parsing: at most ``max_json_values`` values, nested at
    most ``MAX_JSON_DEPTH`` deep.
    """
    header, binary = _split_body(body, header_length)
    check_json_limits(header, max_json_values)
    return decode_request_object(_parse_json(header, "request"), binary)


def decode_request_object(obj: Any, binary: memoryview | None = None) -> InferRequest:
    """Build a request from already-parsed JSON (and the binary section, if any)."""
    if not isinstance(obj, dict):
        raise BadRequest("request must be a JSON object")
    request_id = obj.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(f"request 'id' must be a string, got {request_id!r}")
    raw_inputs = obj.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise BadRequest("request must have a non-empty 'inputs' list")
    inputs = _decode_tensors(raw_inputs, binary, "input")
    outputs: tuple[RequestedOutput, ...] | None = None
    raw_outputs = obj.get("outputs")
    if raw_outputs is not None:
        if not isinstance(raw_outputs, list):
            raise BadRequest("request 'outputs' must be a list")
        outputs = tuple(_requested_output(entry) for entry in raw_outputs)
    params = obj.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest("request 'parameters' must be an object")
    return InferRequest(
        id=request_id,
        inputs=inputs,
        outputs=outputs,
        binary_data_output=_flag(params.get("binary_data_output"), "binary_data_output"),
    )


def response_object(
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """The JSON response as a plain dict (every tensor with ``data``)."""
    response: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        response["id"] = request_id
    response["outputs"] = [to_json(name, array) for name, array in outputs.items()]
    return response


def encode_response(
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Mapping[str, np.ndarray],
    binary: Iterable[str] = (),
) -> tuple[bytes, int | None]:
    """Encode a response; outputs named in ``binary`` go in the binary section.

    Returns the body and the header length (None for a pure JSON body).
    """
    binary_names = set(binary)
    if not binary_names:
        return _json_response(model_name, model_version, request_id, outputs), None
    return _encode_message(
        {"model_name": model_name, "model_version": model_version, "id": request_id},
        outputs,
        binary_names,
    )


# --- client side ---------------------------------------------------------------------------


def encode_json_request(
    inputs: Mapping[str, np.ndarray],
    *,
    request_id: str | None = None,
    outputs: Sequence[str] | None = None,
    binary_outputs: bool = False,
) -> bytes:
    """A JSON request body for ``inputs``; ask for ``outputs`` (default: all)."""
    body, _ = _encode_message(_request_head(request_id, outputs, binary_outputs), inputs, set())
    return body


def encode_binary_request(
    inputs: Mapping[str, np.ndarray],
    *,
    request_id: str | None = None,
    outputs: Sequence[str] | None = None,
    binary_outputs: bool = True,
) -> tuple[bytes, int]:
    """A binary-extension request body and the value of its header-length HTTP header."""
    head = _request_head(request_id, outputs, binary_outputs)
    body, header_length = _encode_message(head, inputs, set(inputs))
    assert header_length is not None
    return body, header_length


def read_response(body: bytes, header_length: int | None = None) -> InferResponse:
    """Parse a response body; an ``{"error": ...}`` body raises :class:`InferenceError`."""
    header, binary = _split_body(body, header_length)
    obj = _parse_json(header, "response")
    if not isinstance(obj, dict):
        raise BadRequest("response must be a JSON object")
    if "error" in obj:
        raise InferenceError(f"server answered with an error: {obj['error']}")
    raw_outputs = obj.get("outputs")
    if not isinstance(raw_outputs, list):
        raise BadRequest("response must have an 'outputs' list")
    return InferResponse(
        model_name=str(obj.get("model_name", "")),
        model_version=obj.get("model_version"),
        id=obj.get("id"),
        outputs=_decode_tensors(raw_outputs, binary, "output"),
    )


def decode_response(body: bytes, header_length: int | None = None) -> dict[str, np.ndarray]:
    """The output tensors of a response body (JSON or binary)."""
    return read_response(body, header_length).outputs


# --- shared ----------------------------------------------------------------------------------


def _split_body(body: bytes, header_length: int | None) -> tuple[bytes, memoryview | None]:
    if header_length is None:
        return body, None
    if not 0 < header_length <= len(body):
        raise BadRequest(
            f"{HEADER_LENGTH_HEADER} is {header_length} but the body has {len(body)} bytes"
        )
    view = memoryview(body)
    return body[:header_length], view[header_length:]


_DECODER: Final = json.JSONDecoder()  # what json.loads uses without arguments


def _parse_json(data: bytes, what: str) -> Any:
    try:
        if data[:1] == b"{" and data[1:2] != b"\x00":  # what json.loads detects as UTF-8
            return _DECODER.decode(data.decode("utf-8", "surrogatepass"))
        return json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest(f"malformed JSON in {what}: {exc}") from None
    except RecursionError:  # bounded by check_json_limits first; a second line of defence
        raise BadRequest(f"malformed JSON in {what}: nested too deeply") from None


def _requested_output(entry: Any) -> RequestedOutput:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BadRequest(f"each requested output needs a 'name' string, got {entry!r}")
    params = entry.get("parameters") or {}
    if not isinstance(params, dict):
        raise BadRequest(f"output {entry['name']!r}: 'parameters' must be an object")
    binary = params.get("binary_data")
    return RequestedOutput(entry["name"], None if binary is None else _flag(binary, "binary_data"))


def _flag(value: Any, key: str) -> bool:
    if value is None:
        return False
    if type(value) is not bool:
        raise BadRequest(f"parameter {key!r} must be true or false, got {value!r}")
    return value


def _decode_tensors(
    entries: list[Any], binary: memoryview | None, kind: str
) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for entry in entries:
        if not isinstance(entry, dict):
            raise BadRequest(f"each {kind} must be an object, got {entry!r}")
        name = entry.get("name")
        if not isinstance(name, str):
            raise BadRequest(f"each {kind} needs a 'name' string, got {name!r}")
        if name in tensors:
            raise BadRequest(f"{kind} {name!r} appears more than once")
        datatype = entry.get("datatype")
        if not isinstance(datatype, str):
            raise BadRequest(f"{kind} {name!r} needs a 'datatype' string, got {datatype!r}")
        dtype = numpy_dtype(datatype)
        shape = parse_shape(name, entry.get("shape"), kind)
        params = entry.get("parameters")
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if "data" in entry:
                raise BadRequest(f"{kind} {name!r} has both 'data' and binary_data_size")
            if binary is None:
                raise BadRequest(
                    f"{kind} {name!r} has binary_data_size but the body has no binary section "
                    f"(missing {HEADER_LENGTH_HEADER} header?)"
                )
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise BadRequest(
                    f"{kind} {name!r}: binary_data_size {size!r} runs past the end of the "
                    f"binary data ({len(binary) - offset} bytes left)"
                )
            raw = binary[offset : offset + size]
            offset += size
            tensors[name] = from_binary(name, datatype, dtype, shape, raw, kind)
        elif "data" in entry:
            tensors[name] = from_json(name, datatype, dtype, shape, entry["data"], kind)
        else:
            raise BadRequest(f"{kind} {name!r} has neither 'data' nor binary_data_size")
    if binary is not None and offset != len(binary):
        raise BadRequest(
            f"binary data: the {kind}s declare {offset} bytes but the body carries "
            f"{len(binary)} bytes after the JSON header"
        )
    return tensors


def _request_head(
    request_id: str | None, outputs: Sequence[str] | None, binary_outputs: bool
) -> dict[str, Any]:
    head: dict[str, Any] = {"id": request_id}
    if outputs is not None:
        head["outputs"] = [
            {"name": name, "parameters": {"binary_data": binary_outputs}} for name in outputs
        ]
    elif binary_outputs:
        head["parameters"] = {"binary_data_output": True}
    return head


def _encode_message(
    head: dict[str, Any], tensors: Mapping[str, np.ndarray], binary_names: set[str]
) -> tuple[bytes, int | None]:
    """Encode a request or response; ``head`` gives the other top-level fields."""
    key = "outputs" if "model_name" in head else "inputs"
    message = {k: v for k, v in head.items() if v is not None and k != "outputs"}
    entries: list[dict[str, Any]] = []
    buffers: list[bytes] = []
    for name, array in tensors.items():
        if name in binary_names:
            raw = to_bytes(array)
            buffers.append(raw)
            entries.append(
                {
                    "name": name,
                    "datatype": datatype_of(array.dtype),
                    "shape": list(array.shape),
                    "parameters": {"binary_data_size": len(raw)},
                }
            )
        else:
            entries.append(to_json(name, array))
    message[key] = entries
    if key == "inputs" and "outputs" in head:
        message["outputs"] = head["outputs"]
    header = _dumps(message)
    if not buffers:
        return header, None
    return b"".join([header, *buffers]), len(header)


# One compact encoder, built once (json.dumps with arguments builds a new one per call). NaN
# and infinities are not JSON: encoding them fails instead of writing bare NaN.
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


# The response encoder: the same output, without cycle tracking (a response is a tree built
# here). NaN fails in the encoder, so tensors are not scanned for it first.
_RESPONSE_ENCODER: Final = json.JSONEncoder(
    separators=(",", ":"), allow_nan=False, check_circular=False
)


def _json_response(
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Mapping[str, np.ndarray],
) -> bytes:
    """``_dumps(response_object(...))``, with the NaN check done by the encoder."""
    response: dict[str, Any] = {"model_name": model_name, "model_version": model_version}
    if request_id is not None:
        response["id"] = request_id
    try:
        response["outputs"] = [json_entry(name, array) for name, array in outputs.items()]
        return _RESPONSE_ENCODER.encode(response).encode()
    except (ValueError, BadRequest):
        for name, array in outputs.items():
            to_json(name, array)  # the first refusal, in order, as response_object gives it
        raise BadRequest("NaN and Infinity cannot be sent as JSON") from None


def _dumps(obj: Any) -> bytes:
    try:
        return _ENCODER.encode(obj).encode()
    except ValueError:  # to_json refuses non-finite tensors first, naming them
        raise BadRequest("NaN and Infinity cannot be sent as JSON") from None
