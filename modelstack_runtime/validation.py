"""Checks of decoded tensors against a model signature, and of data lengths against shapes.

Every message names the tensor and gives what was expected and what arrived, e.g.
``input 'float_input': expected shape [-1, 4], got [1, 3]``. Length checks run before any
reshape, so a short buffer is reported instead of being reshaped into an exception.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from modelstack_runtime.datatypes import NUMPY_TO_V2
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.signature import Signature

__all__ = [
    "check_byte_count",
    "check_element_count",
    "parse_shape",
    "validate_inputs",
    "validate_output_names",
]


def parse_shape(name: str, value: Any, kind: str = "input") -> tuple[int, ...]:
    """A request's ``shape`` field as a tuple of non-negative ints."""
    if not isinstance(value, list) or not all(type(dim) is int and dim >= 0 for dim in value):
        raise BadRequest(
            f"{kind} {name!r}: shape must be a list of non-negative integers, got {value!r}"
        )
    return tuple(value)


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
