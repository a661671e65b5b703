from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack_runtime import BadRequest, Signature, TensorSpec
from modelstack_runtime.validation import (
    check_byte_count,
    check_element_count,
    parse_shape,
    validate_inputs,
    validate_output_names,
)

SIGNATURE = Signature(
    inputs=(TensorSpec("float_input", "FP32", (-1, 4)), TensorSpec("mask", "BOOL", (2,))),
    outputs=(TensorSpec("y", "FP32", (-1, 3)),),
)


def good() -> dict[str, np.ndarray]:
    return {"float_input": np.zeros((5, 4), np.float32), "mask": np.zeros(2, bool)}


def test_good_inputs_pass() -> None:
    validate_inputs(SIGNATURE, good())
    validate_inputs(SIGNATURE, {**good(), "float_input": np.zeros((0, 4), np.float32)})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"float_input": None}, "missing input 'float_input'; the model's inputs are"),
        ({"extra": np.zeros(1)}, "unknown input 'extra'"),
        (
            {"float_input": np.zeros((1, 4))},
            "input 'float_input': expected datatype FP32, got FP64",
        ),
        (
            {"float_input": np.zeros((1, 3), np.float32)},
            r"input 'float_input': expected shape \[-1, 4\], got \[1, 3\]",
        ),
        ({"float_input": np.zeros(4, np.float32)}, r"expected shape \[-1, 4\], got \[4\]"),
        ({"mask": np.zeros(3, bool)}, r"input 'mask': expected shape \[2\], got \[3\]"),
    ],
)
def test_rejections_name_the_input(change: dict[str, np.ndarray | None], message: str) -> None:
    inputs = good()
    for key, value in change.items():
        if value is None:
            del inputs[key]
        else:
            inputs[key] = value
    with pytest.raises(BadRequest, match=message):
        validate_inputs(SIGNATURE, inputs)


def test_unknown_output() -> None:
    validate_output_names(SIGNATURE, ["y"])
    with pytest.raises(BadRequest, match=r"unknown output 'z'; the model's outputs are \['y'\]"):
        validate_output_names(SIGNATURE, ["z"])


@pytest.mark.parametrize("shape", [[1, -1], [1.0], "1,4", [True], None])
def test_parse_shape_rejects_non_shapes(shape: object) -> None:
    with pytest.raises(BadRequest, match="shape must be a list of non-negative integers"):
        parse_shape("x", shape)


shapes = st.lists(st.integers(0, 6), min_size=0, max_size=4)


@given(shape=shapes, count=st.integers(0, 2000))
def test_element_count_mismatch_is_always_rejected(shape: list[int], count: int) -> None:
    if count == math.prod(shape):
        check_element_count("x", shape, count)
    else:
        with pytest.raises(BadRequest, match=re.escape(f"input 'x': shape {shape} needs")):
            check_element_count("x", shape, count)


@given(shape=shapes, itemsize=st.sampled_from([1, 2, 4, 8]), nbytes=st.integers(0, 5000))
def test_byte_count_mismatch_is_always_rejected(
    shape: list[int], itemsize: int, nbytes: int
) -> None:
    if nbytes == math.prod(shape) * itemsize:
        check_byte_count("x", shape, "T", itemsize, nbytes)
    else:
        with pytest.raises(
            BadRequest, match=re.escape(f"needs {math.prod(shape) * itemsize} bytes")
        ):
            check_byte_count("x", shape, "T", itemsize, nbytes)
