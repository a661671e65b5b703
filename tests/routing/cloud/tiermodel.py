"""A tiny tier model built with onnx.helper: y = x @ W + b, label = argmax(y)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

W = np.array(
    [[0.5, -1.0, 0.25], [1.0, 0.0, -0.5], [-0.25, 2.0, 1.0], [0.0, 1.0, 0.5]], dtype=np.float32
)
B = np.array([0.1, -0.2, 0.3], dtype=np.float32)


def write_tier_config(directory: Path, name: str = "iris") -> Path:
    """The model and a runtime configuration for it, in `directory`."""
    x = helper.make_tensor_value_info("float_input", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("MatMul", ["float_input", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "B"], ["probabilities"]),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    initializers = [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")]
    graph = helper.make_graph(nodes, "linear", [x], [y, label], initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(directory / "model.onnx"))
    path = directory / "runtime.json"
    config = {"model_name": name, "model_version": "3", "model_path": "model.onnx"}
    path.write_text(json.dumps(config))
    return path


def expected(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = x.astype(np.float32) @ W + B
    return y, y.argmax(axis=1)
