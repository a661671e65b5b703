"""A record model served and evaluated: named fields in, label names out, 400 for a missing one."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelstack.evaluate import evaluate_manifest
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack_runtime import DataPlane, load_dataplane
from modelstack_runtime.errors import BadRequest

WEIGHTS = np.array(
    [[2.0, -1.0, 0.5], [-1.0, 2.0, 0.0], [0.5, 0.0, 2.0], [0.1, 0.2, -0.3]], dtype=np.float32
)
NAMES = ("cat", "dog", "bird")
FIELDS = ("a", "b", "c", "d")


def write_bundle(root: Path, data: str = "") -> Path:
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["logits"])],
        "record_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(WEIGHTS, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (root / "model.onnx").write_bytes(model.SerializeToString())
    onnx.checker.check_model(model)
    (root / "names.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    fields = ", ".join(f"{{name: {f}}}" for f in FIELDS)
    evaluation = ""
    if data:
        (root / "eval.jsonl").write_text(data, encoding="utf-8")
        digest = hashlib.sha256(data.encode()).hexdigest()
        evaluation = (
            "evaluation:\n  task: classification\n  labels: labels\n  metrics: [accuracy]\n"
            f"  datasets: [{{name: rows, path: eval.jsonl, sha256: {digest}}}]\n"
        )
    manifest = root / "modelstack.yaml"
    sha = hashlib.sha256((root / "model.onnx").read_bytes()).hexdigest()
    manifest.write_text(
        "apiVersion: modelstack.dev/v1\nkind: ModelService\nmetadata: {name: rec, version: '1'}\n"
        f"model:\n  path: model.onnx\n  sha256: {sha}\n"
        f"  preprocess:\n    record:\n      fields: [{fields}]\n"
        "  postprocess: {activation: softmax, top_k: 2, labels: names.txt}\n"
        f"targets: {{dev: {{provider: local}}}}\n{evaluation}",
        encoding="utf-8",
    )
    return manifest


def rows(count: int) -> np.ndarray:
    return np.random.default_rng(3).normal(size=(count, 4)).astype(np.float32)


def top_names(x: np.ndarray) -> list[list[str]]:
    """What the steps mean, by hand: softmax is monotone, so the top 2 logits name them."""
    order = np.argsort(-(x @ WEIGHTS), axis=1)[:, :2]
    return [[NAMES[i] for i in row] for row in order]


@pytest.fixture
def plane(tmp_path: Path) -> DataPlane:
    return load_dataplane(prepare_local(load_manifest(write_bundle(tmp_path))).config)


def infer(plane: DataPlane, x: np.ndarray, fields: tuple[str, ...] = FIELDS) -> dict[str, list]:
    inputs = [
        {"name": f, "datatype": "FP32", "shape": [len(x)], "data": x[:, FIELDS.index(f)].tolist()}
        for f in fields
    ]
    body = json.dumps({"inputs": inputs}).encode()
    payload, _ = plane.infer("rec", body, None, "application/json")
    return {o["name"]: o["data"] for o in json.loads(payload)["outputs"]}


def test_a_record_batch_gets_the_label_names_its_fields_mean(plane: DataPlane) -> None:
    x = rows(5)
    labels = infer(plane, x)["labels"]
    assert [labels[i : i + 2] for i in range(0, 10, 2)] == top_names(x)


def test_a_missing_field_is_a_400_naming_it(plane: DataPlane) -> None:
    with pytest.raises(BadRequest, match="'d'") as info:
        infer(plane, rows(2), fields=("a", "b", "c"))
    assert int(info.value.status) == 400


def test_evaluation_takes_records_and_label_names(tmp_path: Path) -> None:
    x = rows(20)
    truth = [names[0] for names in top_names(x)]
    truth[3] = "bird" if truth[3] != "bird" else "cat"  # one row labelled wrong
    lines = [
        json.dumps({**{f: float(v) for f, v in zip(FIELDS, row, strict=True)}, "labels": name})
        for row, name in zip(x, truth, strict=True)
    ]
    manifest = write_bundle(tmp_path, "\n".join(lines) + "\n")
    result = evaluate_manifest(load_manifest(manifest))
    assert result.candidate.metrics["accuracy"] == pytest.approx(19 / 20)
