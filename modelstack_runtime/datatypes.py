"""The one table between Open Inference Protocol (KServe v2) datatypes and numpy dtypes.

Everything else (the reverse map, the ONNX tensor type map) is derived from or checked against
this table. ``BYTES`` tensors are numpy ``object`` arrays whose elements are ``bytes`` (or
``str`` when they come straight from onnxruntime).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np

from modelstack_runtime.errors import BadRequest

__all__ = [
    "NUMPY_TO_V2",
    "ONNX_TO_V2",
    "V2_TO_NUMPY",
    "datatype_of",
    "numpy_dtype",
    "onnx_to_v2",
]

V2_TO_NUMPY: Final[Mapping[str, np.dtype[np.generic]]] = MappingProxyType(
    {
        "BOOL": np.dtype(np.bool_),
        "UINT8": np.dtype("<u1"),
        "UINT16": np.dtype("<u2"),
        "UINT32": np.dtype("<u4"),
        "UINT64": np.dtype("<u8"),
        "INT8": np.dtype("<i1"),
        "INT16": np.dtype("<i2"),
        "INT32": np.dtype("<i4"),
        "INT64": np.dtype("<i8"),
        "FP16": np.dtype("<f2"),
        "FP32": np.dtype("<f4"),
        "FP64": np.dtype("<f8"),
        "BYTES": np.dtype(np.object_),
    }
)

NUMPY_TO_V2: Final[Mapping[np.dtype[np.generic], str]] = MappingProxyType(
    {dtype: name for name, dtype in V2_TO_NUMPY.items()}
)

# ONNX element types as onnxruntime spells them ("tensor(float)") -> v2 datatype.
ONNX_TO_V2: Final[Mapping[str, str]] = MappingProxyType(
    {
        "tensor(bool)": "BOOL",
        "tensor(uint8)": "UINT8",
        "tensor(uint16)": "UINT16",
        "tensor(uint32)": "UINT32",
        "tensor(uint64)": "UINT64",
        "tensor(int8)": "INT8",
        "tensor(int16)": "INT16",
        "tensor(int32)": "INT32",
        "tensor(int64)": "INT64",
        "tensor(float16)": "FP16",
        "tensor(float)": "FP32",
        "tensor(double)": "FP64",
        "tensor(string)": "BYTES",
    }
)
assert set(ONNX_TO_V2.values()) == set(V2_TO_NUMPY), "ONNX map must cover the v2 table"


def numpy_dtype(datatype: str) -> np.dtype[np.generic]:
    """The numpy dtype for a v2 datatype; :class:`BadRequest` names the unknown one."""
    try:
        return V2_TO_NUMPY[datatype]
    except (KeyError, TypeError):
        known = ", ".join(V2_TO_NUMPY)
        raise BadRequest(f"unknown datatype {datatype!r}; expected one of {known}") from None


def datatype_of(dtype: np.dtype[np.generic]) -> str:
    """The v2 datatype of a numpy dtype (``str``/``bytes`` dtypes are ``BYTES``)."""
    found = NUMPY_TO_V2.get(dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype)
    if found is not None:
        return found
    if dtype.kind in ("U", "S"):
        return "BYTES"
    raise BadRequest(f"numpy dtype {dtype} has no v2 datatype")


def onnx_to_v2(onnx_type: str) -> str:
    """The v2 datatype of an onnxruntime type string such as ``"tensor(float)"``."""
    try:
        return ONNX_TO_V2[onnx_type]
    except KeyError:
        raise ValueError(f"ONNX type {onnx_type!r} has no v2 datatype") from None
