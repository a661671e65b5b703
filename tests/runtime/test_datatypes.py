from __future__ import annotations

import numpy as np
import pytest

from modelstack_runtime import NUMPY_TO_V2, ONNX_TO_V2, V2_TO_NUMPY, BadRequest
from modelstack_runtime.datatypes import datatype_of, numpy_dtype, onnx_to_v2


def test_table_covers_the_v2_datatypes() -> None:
    assert set(V2_TO_NUMPY) == {
        "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
        "FP16", "FP32", "FP64", "BYTES",
    }  # fmt: skip


@pytest.mark.parametrize("datatype", sorted(V2_TO_NUMPY))
def test_round_trip_through_numpy(datatype: str) -> None:
    dtype = numpy_dtype(datatype)
    assert datatype_of(dtype) == datatype
    assert NUMPY_TO_V2[dtype] == datatype
    assert datatype_of(np.zeros(2, dtype=dtype).dtype) == datatype


def test_native_and_big_endian_dtypes_map() -> None:
    assert datatype_of(np.dtype(np.float32)) == "FP32"
    assert datatype_of(np.dtype(">i4")) == "INT32"
    assert datatype_of(np.array(["a"]).dtype) == "BYTES"
    assert datatype_of(np.array([b"a"]).dtype) == "BYTES"


def test_onnx_types_map_onto_the_table() -> None:
    assert onnx_to_v2("tensor(float)") == "FP32"
    assert onnx_to_v2("tensor(string)") == "BYTES"
    assert set(ONNX_TO_V2.values()) == set(V2_TO_NUMPY)
    with pytest.raises(ValueError, match="tensor\\(bfloat16\\)"):
        onnx_to_v2("tensor(bfloat16)")


def test_unknown_datatype_is_a_bad_request_naming_it() -> None:
    with pytest.raises(BadRequest, match="unknown datatype 'FLOAT'"):
        numpy_dtype("FLOAT")
    with pytest.raises(BadRequest, match="complex64"):
        datatype_of(np.dtype(np.complex64))
