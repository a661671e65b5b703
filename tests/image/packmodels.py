"""Deterministic models for the packing tests: an MLP (inline or with external data) and a
bundle around it with a manifest and a smoke test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTH = 256


def mlp(width: int = WIDTH, layers: int = 3, seed: int = 0) -> onnx.ModelProto:
    """`layers` MatMul+Add+Relu layers of `width` x `width`, FP32, batch dimension free."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    current = "x"
    for i in range(layers):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = rng.standard_normal(width).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes += [
            helper.make_node("MatMul", [current, f"w{i}"], [f"m{i}"]),
            helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"]),
            helper.make_node("Relu", [f"a{i}"], [f"h{i}"] if i < layers - 1 else ["y"]),
        ]
        current = f"h{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def write_bundle(
    directory: Path, model: onnx.ModelProto, *, external: bool = False, width: int = WIDTH
) -> Path:
    """A bundle (model.onnx, modelstack.yaml with one smoke test); returns the manifest."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.onnx"
    if external:
        (directory / "weights").mkdir(exist_ok=True)
        onnx.save_model(
            model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
            location="weights/mlp.bin", size_threshold=0,
        )  # fmt: skip
    else:
        onnx.save_model(model, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    row = ", ".join(f"{(i % 7) / 7:.3f}" for i in range(width))
    (directory / "modelstack.yaml").write_text(
        f"""apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {{name: mlp, version: 1.0.0}}
model: {{path: model.onnx, sha256: {digest}}}
runtime: {{intra_op_threads: 1, inter_op_threads: 1}}
targets:
  local: {{provider: local}}
smoke_tests:
  - name: one-row
    inputs:
      x: {{data: [[{row}]]}}
""",
        encoding="utf-8",
    )
    return directory / "modelstack.yaml"
