"""Checks of decoded tensors against a model signature, and of data lengths against shapes.

Every message names the tensor and gives what was expected and what arrived, e.g.
``input 'float_input': expected shape [-1, 4], got [1, 3]``. Length checks run before any
reshape, so a short buffer is reported instead of being reshaped into an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import numpy as np

from modelstack_runtime.datatypes import NUMPY_TO_V2
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.signature import Signature

__all__ = [
    "MAX_RANK",
    "MAX_TENSOR_ELEMENTS",
    "check_byte_count",
    "check_element_count",
    "check_finite",
    "parse_shape",
    "validate_inputs",
    "validate_output_names",
]

MAX_RANK: Final = 32
"""The most dimensions a tensor may have (numpy's portable limit; ONNX models stay far below)."""
MAX_TENSOR_ELEMENTS: Final = 2**31 - 1
"""The most elements a tensor may have, counting its non-zero dimensions only."""


def parse_shape(name: str, value: Any, kind: str = "input") -> tuple[int, ...]:
    """A request's ``shape`` field as a tuple of non-negative ints within the tensor limits."""
    if not isinstance(value, list) or not all(type(dim) is int and dim >= 0 for dim in value):
        raise BadRequest(
            f"{kind} {name!r}: shape must be a list of non-negative integers, got {_short(value)}"
        )
    if len(value) > MAX_RANK:
        raise BadRequest(
            f"{kind} {name!r}: shape has {len(value)} dimensions; at most {MAX_RANK} are allowed"
        )
    if math.prod(dim for dim in value if dim) > MAX_TENSOR_ELEMENTS:
        raise BadRequest(
            f"{kind} {name!r}: shape {_short(value)} describes more than "
            f"{MAX_TENSOR_ELEMENTS} elements"
        )
    return tuple(value)


_SMALL_FINITE_CHECK: Final = 64
"""Up to this many elements, finiteness is checked on Python floats (cheaper than ufuncs)."""


def check_finite(name: str, array: np.ndarray) -> None:
    """Reject NaN and infinities in a floating-point input (``allow_non_finite`` skips this)."""
    if array.dtype.kind != "f" or not array.size:
        return
    if array.size <= _SMALL_FINITE_CHECK:
        finite = all(map(math.isfinite, array.ravel().tolist()))
    else:
        finite = bool(np.isfinite(array).all())
    if not finite:
        raise BadRequest(
            f"input {name!r} contains NaN or Infinity; send finite numbers "
            "(or set the runtime setting allow_non_finite to accept them)"
        )


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_element_count(name: str, shape: Sequence[int], count: int, kind: str = "input") -> None:
    """Reject data whose element count disagrees with ``shape``."""
    expected = math.prod(shape)
    if count != expected:
        raise BadRequest(
            f"{kind} {name!r}: shape {list(shape)} needs {expected} elements, got {count}"
        )


def check_byte_count(
    name: str,
    shape: Sequence[int],
    datatype: str,
    itemsize: int,
    nbytes: int,
    kind: str = "input",
) -> None:
    """Reject binary data whose size disagrees with ``shape`` times the element size."""
    expected = math.prod(shape) * itemsize
    if nbytes != expected:
        raise BadRequest(
            f"{kind} {name!r}: shape {list(shape)} of {datatype} needs {expected} bytes, "
            f"got {nbytes}"
        )


def validate_inputs(signature: Signature, inputs: Mapping[str, np.ndarray]) -> None:
    """Reject missing, unknown, wrongly typed or wrongly shaped inputs."""
    for spec in signature.inputs:
        array = inputs.get(spec.name)
        if array is None:
            raise BadRequest(
                f"missing input {spec.name!r}; the model's inputs are {_names(signature.inputs)}"
            )
        datatype = NUMPY_TO_V2.get(array.dtype)
        if datatype != spec.datatype:
            raise BadRequest(
                f"input {spec.name!r}: expected datatype {spec.datatype}, "
                f"got {datatype or array.dtype}"
            )
        if not spec.matches_shape(array.shape):
            raise BadRequest(
                f"input {spec.name!r}: expected shape {list(spec.shape)}, got {list(array.shape)}"
            )
    if len(inputs) != len(signature.inputs):
        known = {spec.name for spec in signature.inputs}
        extra = sorted(set(inputs) - known)
        raise BadRequest(
            f"unknown input {extra[0]!r}; the model's inputs are {_names(signature.inputs)}"
        )


def validate_output_names(signature: Signature, names: Iterable[str]) -> None:
    """Reject requested outputs the model does not have."""
    known = signature.output_names
    for name in names:
        if name not in known:
            raise BadRequest(f"unknown output {name!r}; the model's outputs are {list(known)}")


def _names(specs: Iterable[Any]) -> list[str]:
    return [spec.name for spec in specs]
