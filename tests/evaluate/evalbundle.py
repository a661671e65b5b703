"""A tiny real classifier bundle with an evaluation section, written into tmp_path.

The model is x FP32 [N, 4] -> probabilities = Softmax(x @ W + b) FP32 [N, 3], label = ArgMax
INT64 [N], built with onnx.helper. The data set's labels agree with the model on 8 of 10 rows,
so its accuracy is exactly 0.8: gates above and below that number pass and fail for real.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS = np.array(
    [[2.0, -1.0, 0.5], [-1.0, 2.0, 0.0], [0.5, 0.0, 2.0], [0.1, 0.2, -0.3]], dtype=np.float32
)
BIAS = np.array([0.0, 0.1, -0.1], dtype=np.float32)
ROWS = 10
ACCURACY = 0.8


def classifier_model(weights: np.ndarray = WEIGHTS) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    probabilities = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_classifier",
        [x],
        [label, probabilities],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(BIAS, "b")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8, producer_name="tests"
    )
    onnx.checker.check_model(model)
    return bytes(model.SerializeToString())


def inputs_and_labels() -> tuple[np.ndarray, np.ndarray]:
    """Ten rows, and labels that match the model's prediction on all but rows 0 and 5."""
    x = np.random.default_rng(7).normal(size=(ROWS, 4)).astype(np.float32)
    predicted = np.argmax(x @ WEIGHTS + BIAS, axis=1)
    labels = predicted.copy()
    labels[[0, 5]] = (predicted[[0, 5]] + 1) % 3
    return x, labels.astype(np.int64)


def write_npz(path: Path, **arrays: Any) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_bundle(
    root: Path,
    *,
    gates: str = "accuracy: {min: 0.75}",
    data_name: str = "eval.npz",
    extra: str = "",
    data_sha: str | None = None,
) -> Path:
    """The bundle's manifest path. `data_name` names a file the caller may write itself
    (eval.npz is written here); `gates` and `extra` are YAML under evaluation:."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(classifier_model())
    x, labels = inputs_and_labels()
    if data_name == "eval.npz" and not (root / data_name).exists():
        write_npz(root / data_name, x=x, label=labels)
    digest = data_sha or sha(root / data_name)
    manifest = root / "modelstack.yaml"
    manifest.write_text(
        f"""\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata:
  name: tiny
  version: 1.0.0
model:
  path: model.onnx   # the model
  sha256: {sha(root / "model.onnx")}
targets:
  local:
    provider: local
evaluation:
  task: classification
  labels: label
  scores: probabilities
  top_k: 2
  latency_runs: 5
  datasets:
    - name: rows
      path: {data_name}
      sha256: "{digest}"
  gates:
    {gates}
{extra}""",
        encoding="utf-8",
    )
    return manifest
