"""Train a logistic-regression classifier on the iris data set and export it to ONNX.

Writes ``model.onnx`` and ``smoke_cases.json`` next to this file. Re-running the
script reproduces both files byte for byte: training is seeded, the graph name is
fixed, and the producer fields do not depend on the installed converter version.

Usage: python examples/iris/make_model.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "model.onnx"
SMOKE_PATH = HERE / "smoke_cases.json"

SEED = 0
INPUT_NAME = "float_input"
OUTPUT_NAMES = ("label", "probabilities")
FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
IR_VERSION = 8  # loadable by onnxruntime >= 1.14
# Output names used by some skl2onnx versions, mapped to the names served here.
OUTPUT_RENAMES = {"output_label": "label", "output_probability": "probabilities"}


def train() -> tuple[LogisticRegression, np.ndarray, np.ndarray, list[str]]:
    data = load_iris()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.3, random_state=SEED, stratify=y
    )
    clf = LogisticRegression(max_iter=1000, random_state=SEED)
    clf.fit(x_train, y_train)
    print(f"test accuracy: {clf.score(x_test, y_test):.4f} ({len(y_test)} held-out rows)")
    return clf, x_test, y_test, [str(name) for name in data.target_names]


def normalize(model: onnx.ModelProto) -> None:
    """Give outputs their served names, a named batch dim and a clean opset list."""
    renames = OUTPUT_RENAMES
    for node in model.graph.node:
        node.output[:] = [renames.get(name, name) for name in node.output]
        node.input[:] = [renames.get(name, name) for name in node.input]
    for value in (*model.graph.input, *model.graph.output):
        value.name = renames.get(value.name, value.name)
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    # skl2onnx may list the default domain twice; keep one entry per domain.
    versions: dict[str, int] = {}
    for opset in model.opset_import:
        versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    del model.opset_import[:]
    for domain, version in sorted(versions.items()):
        model.opset_import.append(onnx.helper.make_opsetid(domain, version))


def convert(clf: LogisticRegression, class_names: list[str]) -> onnx.ModelProto:
    n_features = int(clf.n_features_in_)
    model = convert_sklearn(
        clf,
        name="iris_logreg",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
        options={id(clf): {"zipmap": False}},
    )
    normalize(model)
    model.ir_version = IR_VERSION
    model.producer_name = "modelstack-examples"
    model.producer_version = "1"
    model.model_version = 1
    model.doc_string = (
        "Iris species classifier (scikit-learn LogisticRegression). "
        f"Input {INPUT_NAME}: FP32 [N, {n_features}] = {', '.join(FEATURES)} in cm. "
        f"Outputs label: INT64 [N] (index into classes), "
        f"probabilities: FP32 [N, {len(class_names)}]."
    )
    onnx.helper.set_model_props(
        model,
        {
            "classes": ",".join(class_names),
            "features": ",".join(FEATURES),
            "dataset": "sklearn.datasets.load_iris",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    if tuple(out.name for out in model.graph.output) != OUTPUT_NAMES:
        raise RuntimeError(f"unexpected outputs: {[out.name for out in model.graph.output]}")
    return model


def smoke_cases(
    session: ort.InferenceSession,
    x_test: np.ndarray,
    y_test: np.ndarray,
    class_names: list[str],
) -> list[dict[str, Any]]:
    """One held-out row per class, with the probabilities the exported model gives."""
    cases: list[dict[str, Any]] = []
    for cls, name in enumerate(class_names):
        row = x_test[np.flatnonzero(y_test == cls)[:1]]
        label, proba = session.run(list(OUTPUT_NAMES), {INPUT_NAME: row})
        if label.tolist() != [cls]:
            raise RuntimeError(f"model mispredicts the {name} smoke row: {label.tolist()}")
        cases.append(
            {
                "name": name,
                "inputs": {INPUT_NAME: np.round(row.astype(np.float64), 4).tolist()},
                "label": label.tolist(),
                "probabilities": np.round(proba.astype(np.float64), 4).tolist(),
            }
        )
    return cases


def main() -> None:
    clf, x_test, y_test, class_names = train()
    payload = convert(clf, class_names).SerializeToString()
    MODEL_PATH.write_bytes(payload)

    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    label, proba = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x_test})
    if not np.array_equal(label, clf.predict(x_test)):
        raise RuntimeError("onnxruntime labels differ from scikit-learn")
    np.testing.assert_allclose(proba, clf.predict_proba(x_test), atol=1e-5)

    cases = smoke_cases(session, x_test, y_test, class_names)
    text = "[\n" + ",\n".join(f"  {json.dumps(case)}" for case in cases) + "\n]\n"
    SMOKE_PATH.write_text(text)
    print(f"smoke cases ({SMOKE_PATH.name}):\n{text}", end="")
    print(f"model.onnx sha256: {hashlib.sha256(payload).hexdigest()}")
    print(f"model.onnx size: {len(payload)} bytes")


if __name__ == "__main__":
    main()
