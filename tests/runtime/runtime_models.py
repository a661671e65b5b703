"""Tiny ONNX models built with onnx.helper, their expected answers, and runtime configs.

A module of its own (not conftest.py) so that test files import it by a unique name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.array(
    [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5], [-0.25, 2.0, 1.0], [0.0, 1.0, 0.5]], dtype=np.float32
)
B = np.array([0.1, -0.2, 0.3], dtype=np.float32)


def linear_model() -> onnx.ModelProto:
    """y = x @ W + b (FP32 [-1, 4] -> [-1, 3]) and label = argmax(y) (INT64 [-1])."""
    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("MatMul", ["float_input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["probabilities"]),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "linear",
        [x],
        [y, label],
        initializer=[numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def text_model() -> onnx.ModelProto:
    """BYTES in, BYTES out (identity) plus a fixed-shape INT32 input doubled."""
    text = helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])
    count = helper.make_tensor_value_info("count", TensorProto.INT32, [2])
    text_out = helper.make_tensor_value_info("text_out", TensorProto.STRING, ["N"])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.INT32, [2])
    nodes = [
        helper.make_node("Identity", ["text"], ["text_out"]),
        helper.make_node("Add", ["count", "count"], ["doubled"]),
    ]
    graph = helper.make_graph(nodes, "text", [text, count], [text_out, doubled])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def expected_linear(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = x.astype(np.float32) @ W + B
    return y, y.argmax(axis=1)


def write_config(directory: Path, model: onnx.ModelProto, **overrides: Any) -> Path:
    onnx.save(model, str(directory / "model.onnx"))
    data: dict[str, Any] = {
        "model_name": "iris",
        "model_version": "3",
        "model_path": "model.onnx",
        **overrides,
    }
    path = directory / "runtime.json"
    path.write_text(json.dumps(data))
    return path
