"""One tensor between numpy and its wire forms: JSON ``data`` lists and binary buffers.

Data lengths are checked against the shape before any reshape. ``BYTES`` elements in binary
form are a 4-byte little-endian length followed by the bytes.
"""

from __future__ import annotations

import struct
from typing import Any, Final

import numpy as np

from modelstack_runtime.datatypes import V2_TO_NUMPY, datatype_of
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.validation import check_byte_count, check_element_count

__all__ = [
    "check_json_finite",
    "from_binary",
    "from_json",
    "json_entry",
    "to_bytes",
    "to_json",
]

_LENGTH: Final = struct.Struct("<I")


def from_binary(
    name: str,
    datatype: str,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    raw: memoryview,
    kind: str,
) -> np.ndarray:
    if datatype == "BYTES":
        elements = _split_bytes(name, raw, kind)
        check_element_count(name, shape, len(elements), kind)
        array = np.empty(len(elements), dtype=object)
        array[:] = elements
        return array.reshape(shape)
    check_byte_count(name, shape, datatype, dtype.itemsize, len(raw), kind)
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def _split_bytes(name: str, raw: memoryview, kind: str) -> list[bytes]:
    elements: list[bytes] = []
    offset, end = 0, len(raw)
    while offset < end:
        if offset + 4 > end:
            raise BadRequest(f"{kind} {name!r}: BYTES data ends inside a length prefix")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > end:
            raise BadRequest(
                f"{kind} {name!r}: BYTES element of {length} bytes runs past the end of its data"
            )
        elements.append(bytes(raw[offset : offset + length]))
        offset += length
    return elements


def from_json(
    name: str,
    datatype: str,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    data: Any,
    kind: str,
) -> np.ndarray:
    if not isinstance(data, list):
        data = [data]  # a scalar is the one element of a shape-[1] / [] tensor
    if datatype == "BYTES":
        flat = _flatten_bytes(name, data, kind)
        check_element_count(name, shape, len(flat), kind)
        array = np.empty(len(flat), dtype=object)
        array[:] = flat
        return array.reshape(shape)
    if dtype.kind == "f" and all(type(value) is float for value in data):
        # The common flat list of floats: one conversion, as np.array(data).astype(dtype) gives.
        check_element_count(name, shape, len(data), kind)
        return np.array(data, dtype=dtype).reshape(shape)
    try:
        array = np.array(data)
    except (ValueError, OverflowError):
        raise BadRequest(f"{kind} {name!r}: data is a ragged nested list") from None
    check_element_count(name, shape, array.size, kind)
    if not array.size:
        return np.zeros(shape, dtype=dtype)
    if dtype.kind in "iu" and array.dtype.kind in "fO":
        # numpy turns ints beyond int64 (or mixed with them) into float64 or object: redo
        # the conversion exactly instead of losing precision.
        return _exact_integers(name, datatype, dtype, data, kind).reshape(shape)
    _check_json_values(name, datatype, dtype, array, kind)
    return array.astype(dtype, copy=False).reshape(shape)


def _exact_integers(
    name: str, datatype: str, dtype: np.dtype[Any], data: list[Any], kind: str
) -> np.ndarray:
    values = np.array(data, dtype=object).ravel().tolist()
    if not all(type(v) is int or type(v) is bool for v in values):
        raise BadRequest(f"{kind} {name!r}: {datatype} data contains non-integer numbers")
    info = np.iinfo(dtype)
    if min(values) < info.min or max(values) > info.max:
        raise BadRequest(f"{kind} {name!r}: value out of {datatype} range [{info.min}, {info.max}]")
    return np.array(values, dtype=dtype)


def _check_json_values(
    name: str, datatype: str, dtype: np.dtype[Any], array: np.ndarray, kind: str
) -> None:
    got = array.dtype.kind
    allowed = {"b": "b", "i": "biu", "u": "biu", "f": "biuf"}[dtype.kind]
    if got not in allowed:
        found = {"U": "strings", "O": "mixed values", "f": "non-integer numbers"}.get(
            got, f"{array.dtype} values"
        )
        raise BadRequest(f"{kind} {name!r}: {datatype} data contains {found}")
    if dtype.kind in "iu" and got in "iu":
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            raise BadRequest(
                f"{kind} {name!r}: value out of {datatype} range [{info.min}, {info.max}]"
            )


def _flatten_bytes(name: str, data: list[Any], kind: str) -> list[bytes]:
    flat: list[bytes] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            if isinstance(item, str):
                flat.append(item.encode())
            elif isinstance(item, bytes):
                flat.append(item)
            else:
                raise BadRequest(f"{kind} {name!r}: BYTES data must be strings, got {item!r}")
        else:
            stack.pop()
    return flat


def to_bytes(array: np.ndarray) -> bytes:
    datatype = datatype_of(array.dtype)
    if datatype == "BYTES":
        parts: list[bytes] = []
        for item in array.ravel().tolist():
            raw = item.encode() if isinstance(item, str) else bytes(item)
            parts.append(_LENGTH.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=V2_TO_NUMPY[datatype]).tobytes()


def to_json(name: str, array: np.ndarray) -> dict[str, Any]:
    check_json_finite(name, array)
    return json_entry(name, array)


def check_json_finite(name: str, array: np.ndarray) -> None:
    """Refuse a floating-point tensor holding NaN or infinities, which JSON cannot carry."""
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        raise BadRequest(
            f"tensor {name!r} holds NaN or Infinity, which JSON cannot carry; request it with "
            "binary_data (the binary tensor data extension)"
        )


def json_entry(name: str, array: np.ndarray) -> dict[str, Any]:
    """:func:`to_json` without the NaN check, for an encoder that refuses NaN itself."""
    datatype = datatype_of(array.dtype)
    data = array.ravel().tolist()
    if datatype == "BYTES":
        data = [_text(name, item) for item in data]
    return {"name": name, "datatype": datatype, "shape": list(array.shape), "data": data}


def _text(name: str, item: Any) -> str:
    if isinstance(item, bytes):
        try:
            return item.decode()
        except UnicodeDecodeError:
            raise BadRequest(
                f"tensor {name!r} holds non-UTF-8 bytes; request it with binary_data"
            ) from None
    return str(item)
