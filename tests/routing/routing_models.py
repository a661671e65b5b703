"""A tiny ONNX model for the routing tests, built with onnx.helper."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

__all__ = ["softmax_model", "softmax_model_bytes"]


def softmax_model() -> onnx.ModelProto:
    """probabilities = softmax(x) (FP32 [N, 3]); label = argmax."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    p = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("Softmax", ["x"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(nodes, "softmax", [x], [p, label])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def softmax_model_bytes() -> bytes:
    return softmax_model().SerializeToString()
