"""A tiny real ONNX model for the event tests: y = x @ W."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)


def scaled_model() -> onnx.ModelProto:
    """y = x @ W (FP32 [-1, 3] -> [-1, 2])."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "scaled",
        [x],
        [y],
        initializer=[numpy_helper.from_array(W, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def expected(x: Any) -> list[float]:
    return (np.asarray(x, dtype=np.float32) @ W).ravel().tolist()
