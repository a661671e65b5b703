"""Smoke-test tensors as written in a manifest: nested lists checked without numpy.

Lint uses these pure-Python checks (a pre-commit hook must not pay for numpy); the runner turns
the same values into arrays with `to_array`, which imports numpy only when called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KIND_BY_DATATYPE", "nested_shape", "shape_matches", "to_array", "value_kind_error"]

KIND_BY_DATATYPE = {
    "BOOL": "bool",
    "BYTES": "str",
    "FP16": "float", "FP32": "float", "FP64": "float",
    "INT8": "int", "INT16": "int", "INT32": "int", "INT64": "int",
    "UINT8": "int", "UINT16": "int", "UINT32": "int", "UINT64": "int",
}  # fmt: skip


def nested_shape(data: Any) -> tuple[int, ...]:
    """The shape of a nested list (a scalar has shape ()); ValueError when it is ragged."""
    if not isinstance(data, list):
        return ()
    if not data:
        return (0,)
    inner = [nested_shape(item) for item in data]
    if any(s != inner[0] for s in inner):
        raise ValueError("the nested lists have different lengths (a ragged tensor)")
    return (len(data), *inner[0])


def _leaves(data: Any) -> list[Any]:
    if isinstance(data, list):
        return [leaf for item in data for leaf in _leaves(item)]
    return [data]


def value_kind_error(data: Any, datatype: str) -> str | None:
    """Why the values cannot be of `datatype`, or None when they can."""
    kind = KIND_BY_DATATYPE.get(datatype)
    for value in _leaves(data):
        ok = (
            (kind == "bool" and isinstance(value, bool))
            or (kind == "str" and isinstance(value, str))
            or (kind == "int" and isinstance(value, int) and not isinstance(value, bool))
            or (kind == "float" and isinstance(value, (int, float)) and not isinstance(value, bool))
        )
        if not ok:
            return f"value {value!r} is not a valid {datatype} element"
    return None


def shape_matches(expected: tuple[int, ...], actual: tuple[int, ...]) -> bool:
    """Whether a concrete shape fits a signature shape (-1 is a dynamic dimension)."""
    return len(expected) == len(actual) and all(
        e in (-1, a) for e, a in zip(expected, actual, strict=True)
    )


def to_array(data: Any, datatype: str, shape: tuple[int, ...] | None = None) -> Any:
    """A numpy array of the v2 `datatype`, reshaped to `shape` after checking the length."""
    import numpy as np

    from modelstack_runtime.datatypes import numpy_dtype

    array = np.asarray(data, dtype=numpy_dtype(datatype))
    if shape is not None and tuple(array.shape) != tuple(shape):
        count = 1
        for dim in shape:
            count *= dim
        if array.size != count:
            raise ValueError(
                f"{array.size} values cannot fill shape {list(shape)} ({count} values)"
            )
        array = array.reshape(shape)
    return array
