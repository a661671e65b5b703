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
    directory: Path,
    model: onnx.ModelProto,
    *,
    external: bool = False,
    width: int = WIDTH,
    expected: str = "",
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
{expected}""",
        encoding="utf-8",
    )
    return directory / "modelstack.yaml"


GATHER_ROWS = 525_000
GATHER_WIDTH = 1024
"""525,000 x 1024 FP32 rows: 2,150,400,000 bytes, past protobuf's 2 GiB ceiling."""


def write_large_bundle(directory: Path, rows: int = GATHER_ROWS) -> Path:
    """A Gather model whose table (row i holds the value i) lives in `weights.bin` inside the
    bundle, written in chunks: no protobuf, and no array, of that size is ever built."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "weights.bin").open("wb") as out:
        for start in range(0, rows, 4096):
            stop = min(start + 4096, rows)
            block = np.repeat(np.arange(start, stop, dtype=np.float32)[:, None], GATHER_WIDTH, 1)
            out.write(block.tobytes())
    table = TensorProto(name="table", data_type=TensorProto.FLOAT, dims=[rows, GATHER_WIDTH])
    table.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("length", str(rows * GATHER_WIDTH * 4))):
        entry = table.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"], axis=0)],
        "lookup",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["n", GATHER_WIDTH])],
        [table],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = directory / "model.onnx"
    path.write_bytes(model.SerializeToString())
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    last = rows - 1
    first_row = ", ".join(["0"] * GATHER_WIDTH)
    last_row = ", ".join([str(last)] * GATHER_WIDTH)
    (directory / "modelstack.yaml").write_text(
        f"""apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {{name: lookup, version: 1.0.0}}
model: {{path: model.onnx, sha256: {digest}}}
runtime: {{intra_op_threads: 1, inter_op_threads: 1}}
targets:
  local: {{provider: local}}
smoke_tests:
  - name: first-and-last
    inputs:
      ids: {{data: [0, {last}]}}
    expected_outputs:
      rows: {{data: [[{first_row}], [{last_row}]], atol: 0}}
""",
        encoding="utf-8",
    )
    return directory / "modelstack.yaml"
