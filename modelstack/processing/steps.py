"""Pre- and post-processing steps as ONNX nodes (plain ONNX, but for the image decoder).

Only decoding JPEG/PNG needs a custom operator: onnxruntime does not implement ONNX's
`ImageDecoder`, so the graph uses onnxruntime-extensions' `DecodeImage`, which returns HWC
uint8 pixels in BGR order. Everything after it is plain ONNX at opset `OPSET`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelstack.processing import served
from modelstack.processing.spec import ImageSpec, PostprocessSpec, RecordSpec

__all__ = [
    "EXTENSIONS_DOMAIN",
    "LABELS",
    "ML_OPSET",
    "OPSET",
    "SCORES",
    "Graph",
    "image_graph",
    "postprocess_graph",
    "record_graph",
]

OPSET: Final = 18
"""Resize's `axes` and `keep_aspect_ratio_policy` need 18."""
ML_OPSET: Final = 3
EXTENSIONS_DOMAIN: Final = "com.microsoft.extensions"
LABELS: Final = served.LABELS
SCORES: Final = served.SCORES
_BT601: Final = (0.299, 0.587, 0.114)
_FIELD_TYPES: Final = {
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "BOOL": TensorProto.BOOL,
}


class Graph:
    """A small graph under construction: nodes, constants and fresh names."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{self.prefix}{hint}_{self._count}"

    def const(self, value: np.ndarray | Sequence[float] | Sequence[int], dtype: type) -> str:
        name = self.name("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(
        self, op_type: str, inputs: Sequence[str], out: str | None = None, **attrs: object
    ) -> str:
        output = out or self.name(op_type.lower())
        domain = attrs.pop("domain", "")
        self.nodes.append(
            helper.make_node(op_type, list(inputs), [output], domain=str(domain), **attrs)
        )
        return output

    def model(
        self, inputs: Sequence[onnx.ValueInfoProto], outputs: Sequence[onnx.ValueInfoProto]
    ) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, self.prefix.strip("/") or "g", inputs, outputs, self.initializers
        )
        opsets = [helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", ML_OPSET)]
        if any(n.domain == EXTENSIONS_DOMAIN for n in self.nodes):
            opsets.append(helper.make_opsetid(EXTENSIONS_DOMAIN, 1))
        return helper.make_model(graph, opset_imports=opsets)


def image_graph(spec: ImageSpec, out_name: str, elem_type: int) -> onnx.ModelProto:
    """Encoded bytes (uint8 [n]) -> the model input, [1, C, H, W] or [1, H, W, C]."""
    g = Graph("pre/")
    pixels = g.op("DecodeImage", [spec.input], domain=EXTENSIONS_DOMAIN)  # HWC, BGR
    # A grayscale JPEG decodes to one channel, everything else to three (the runtime refuses
    # four-channel CMYK JPEGs before decoding): broadcast to three.
    pixels = g.op("Expand", [pixels, g.const([1, 1, 3], np.int64)])
    x = g.op("Cast", [pixels], to=TensorProto.FLOAT)
    if spec.grayscale:
        x = g.op("MatMul", [x, g.const(np.array(_BT601[::-1]).reshape(3, 1), np.float32)])
    elif spec.channel_order == "rgb":
        x = g.op("Gather", [x, g.const([2, 1, 0], np.int64)], axis=2)
    if spec.resize is not None:
        x = _resize(g, x, spec)
    if spec.center_crop is not None:
        x = _center_crop(g, x, spec.center_crop)
    x = g.op("Mul", [x, g.const([spec.scale], np.float32)])
    if spec.mean is not None:
        x = g.op("Sub", [x, g.const(spec.mean, np.float32)])
    if spec.std is not None:
        x = g.op("Div", [x, g.const(spec.std, np.float32)])
    if spec.layout == "nchw":
        x = g.op("Transpose", [x], perm=[2, 0, 1])
    x = g.op("Unsqueeze", [x, g.const([0], np.int64)])
    g.op("Cast", [x], out=out_name, to=elem_type)
    raw = helper.make_tensor_value_info(spec.input, TensorProto.UINT8, ["bytes"])
    shape: list[int | str] = [d if d > 0 else f"d{i}" for i, d in enumerate(spec.output_shape())]
    return g.model([raw], [helper.make_tensor_value_info(out_name, elem_type, shape)])


def _resize(g: Graph, x: str, spec: ImageSpec) -> str:
    assert spec.resize is not None
    h, w = spec.resize.size
    attrs: dict[str, Any] = {"mode": "linear", "antialias": 1, "axes": [0, 1]}
    if spec.resize.policy == "shorter_side":
        side = min(h, w)
        h = w = side
        attrs["keep_aspect_ratio_policy"] = "not_smaller"
    sizes = g.const([h, w], np.int64)
    return g.op("Resize", [x, "", "", sizes], **attrs)


def _center_crop(g: Graph, x: str, crop: tuple[int, int]) -> str:
    hw = g.op("Slice", [g.op("Shape", [x]), *(g.const(v, np.int64) for v in ([0], [2]))])
    size = g.const(list(crop), np.int64)
    start = g.op("Div", [g.op("Sub", [hw, size]), g.const([2, 2], np.int64)])
    end = g.op("Add", [start, size])
    return g.op("Slice", [x, start, end, g.const([0, 1], np.int64)])


def record_graph(spec: RecordSpec, out_name: str, elem_type: int) -> onnx.ModelProto:
    """Named fields, each [N] -> the model input [N, fields]."""
    g = Graph("pre/")
    columns = []
    for f in spec.fields:
        cast = g.op("Cast", [f.name], to=elem_type)
        columns.append(g.op("Unsqueeze", [cast, g.const([1], np.int64)]))
    g.op("Concat", columns, out=out_name, axis=1)
    inputs = [
        helper.make_tensor_value_info(f.name, _FIELD_TYPES[f.datatype], ["N"]) for f in spec.fields
    ]
    out = helper.make_tensor_value_info(out_name, elem_type, ["N", len(spec.fields)])
    return g.model(inputs, [out])


def postprocess_graph(
    spec: PostprocessSpec, in_name: str, elem_type: int, labels: Sequence[str], columns: int
) -> onnx.ModelProto:
    """Scores [N, classes] -> `labels` (string [N, k]) and `scores` (float [N, k]).

    With a threshold and one score column (binary), the label is `labels[1]` at or above it,
    else `labels[0]`; with more columns, labels under it come back as empty strings.
    """
    binary = spec.threshold is not None and columns == 1
    g = Graph("post/")
    x = g.op("Cast", [in_name], to=TensorProto.FLOAT)
    if spec.activation == "softmax":
        x = g.op("Softmax", [x], axis=-1)
    elif spec.activation == "sigmoid":
        x = g.op("Sigmoid", [x])
    if binary:
        above = g.op("GreaterOrEqual", [x, g.const([float(spec.threshold or 0)], np.float32)])
        index = g.op("Cast", [above], to=TensorProto.INT64)
        g.op("Identity", [x], out=SCORES)
    else:
        k = g.const([spec.top_k or len(labels)], np.int64)
        top = g.name("top")
        g.nodes.append(helper.make_node("TopK", [x, k], [SCORES, top], axis=-1))
        index = top
    names = g.op(
        "LabelEncoder", [index], domain="ai.onnx.ml",
        keys_int64s=list(range(len(labels))), values_strings=list(labels), default_string="",
    )  # fmt: skip
    if spec.threshold is not None and not binary:
        keep = g.op("GreaterOrEqual", [SCORES, g.const([float(spec.threshold)], np.float32)])
        names = g.op("Where", [keep, names, g.const(np.array([""], dtype=object), np.object_)])
    g.op("Identity", [names], out=LABELS)
    raw = helper.make_tensor_value_info(in_name, elem_type, ["N", "classes"])
    outs = [
        helper.make_tensor_value_info(LABELS, TensorProto.STRING, ["N", "k"]),
        helper.make_tensor_value_info(SCORES, TensorProto.FLOAT, ["N", "k"]),
    ]
    return g.model([raw], outs)
