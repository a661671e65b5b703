"""Model bundles for end-to-end deploy tests: tiny, real ONNX classifiers and their manifests.

`good`: label = argmax of the first three features. `wrong`: the labels are rotated, so the
default smoke tests fail (it passes with `labels=(1, 0)`). `fragile`: right for one row, but
it fails (HTTP 500) on any batch of more than one row, which the smoke tests (single rows) do
not see and live traffic does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MANIFEST = """\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata:
  name: {name}
  version: {version}
model:
  path: model.onnx
  sha256: {sha256}
targets:
  local:
    provider: local
    flavour: {flavour}
    port: {port}
    provisioned_concurrency: {replicas}
rollout:
  strategy: {strategy}
  steps: [20, 60, 100]
  interval_s: {interval}
  max_error_rate: 0.05
smoke_tests:
  - name: first
    inputs:
      features: {{data: [[3.0, 0.0, 0.0, 1.0]]}}
    expected_outputs:
      label: {{data: [{first}]}}
      probabilities: {{argmax: {first}}}
  - name: third
    inputs:
      features: {{data: [[0.0, 0.5, 2.0, 0.0]]}}
    expected_outputs:
      label: {{data: [{third}]}}
"""


def model(kind: str) -> bytes:
    weights = np.eye(4, 3, dtype=np.float32) * 4
    if kind == "wrong":
        weights = np.roll(weights, 1, axis=1)
    nodes = [
        helper.make_node("MatMul", ["features", "W"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["soft"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    initializers = [numpy_helper.from_array(weights, "W")]
    if kind == "fragile":
        nodes.append(helper.make_node("Reshape", ["soft", "one_row"], ["probabilities"]))
        initializers.append(numpy_helper.from_array(np.array([1, 3], dtype=np.int64), "one_row"))
    else:
        nodes.append(helper.make_node("Identity", ["soft"], ["probabilities"]))
    graph = helper.make_graph(
        nodes,
        f"tiny-{kind}",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3]),
        ],
        initializers,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    proto.producer_name = "modelstack-tests"
    onnx.checker.check_model(proto)
    return proto.SerializeToString()


def write_bundle(
    directory: Path,
    *,
    kind: str = "good",
    version: str = "1.0.0",
    port: int,
    flavour: str = "http",
    replicas: int = 1,
    strategy: str = "canary",
    interval: int = 1,
    name: str = "tiny",
    labels: tuple[int, int] = (0, 2),
) -> Path:
    """Write (or overwrite) the bundle; returns the manifest's path."""
    directory.mkdir(parents=True, exist_ok=True)
    data = model(kind)
    (directory / "model.onnx").write_bytes(data)
    manifest = directory / "modelstack.yaml"
    manifest.write_text(
        MANIFEST.format(
            name=name,
            version=version,
            sha256=hashlib.sha256(data).hexdigest(),
            flavour=flavour,
            port=port,
            replicas=replicas,
            strategy=strategy,
            interval=interval,
            first=labels[0],
            third=labels[1],
        ),
        encoding="utf-8",
    )
    return manifest
