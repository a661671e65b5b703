"""Train a small MLP on the scikit-learn digits data set (8x8 images) and export it to ONNX.

Writes ``model.onnx``, ``smoke_cases.json`` and ``batch.npz`` next to this file.
Re-running the script reproduces all three byte for byte: training is seeded, the
graph name is fixed, the producer fields do not depend on the installed converter
version, and the .npz archive carries a fixed timestamp.

The model takes raw pixel intensities (0-16, as ``load_digits`` returns them);
no scaling is needed before calling it. Every operator is in the ai.onnx domain
(MatMul, Add, Relu, Softmax, ArgMax), so GPU execution providers run the whole graph.

Usage: python examples/digits-gpu/make_model.py
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent
MODEL_PATH = HERE / "model.onnx"
SMOKE_PATH = HERE / "smoke_cases.json"
BATCH_PATH = HERE / "batch.npz"

SEED = 0
INPUT_NAME = "pixels"
OUTPUT_NAMES = ("label", "probabilities")
SMOKE_DIGITS = (0, 3, 7)
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
IR_VERSION = 8  # loadable by onnxruntime >= 1.14
# Output names used by some skl2onnx versions, mapped to the names served here.
OUTPUT_RENAMES = {"output_label": "label", "output_probability": "probabilities"}


def train() -> tuple[MLPClassifier, np.ndarray, np.ndarray]:
    data = load_digits()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=1000, random_state=SEED)
    with warnings.catch_warnings():
        # Fail loudly rather than ship an under-trained model.
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(x_train, y_train)
    print(
        f"test accuracy: {clf.score(x_test, y_test):.4f} ({len(y_test)} held-out rows, "
        f"converged after {clf.n_iter_} epochs)"
    )
    return clf, x_test, y_test


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


def argmax_label_head(model: onnx.ModelProto) -> None:
    """Compute ``label`` with a single ArgMax over ``probabilities``.

    skl2onnx maps the ArgMax index back to the class through ArrayFeatureExtractor
    (ai.onnx.ml), which GPU execution providers do not implement. The digits classes
    are 0..9, so the index is the label and the graph can stay in the ai.onnx domain.
    """
    graph = model.graph
    needed = {"probabilities"}
    kept: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(node.input)
    kept.reverse()
    kept.append(
        onnx.helper.make_node(
            "ArgMax", ["probabilities"], ["label"], name="ArgMaxLabel", axis=1, keepdims=0
        )
    )
    del graph.node[:]
    graph.node.extend(kept)
    initializers = [init for init in graph.initializer if init.name in needed]
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    if any(node.domain not in ("", "ai.onnx") for node in graph.node):
        raise RuntimeError("graph still uses operators outside the ai.onnx domain")
    ml_free = [opset for opset in model.opset_import if opset.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(ml_free)


def convert(clf: MLPClassifier) -> onnx.ModelProto:
    n_features = int(clf.n_features_in_)
    n_classes = len(clf.classes_)
    model = convert_sklearn(
        clf,
        name="digits_mlp",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        target_opset=TARGET_OPSET,
        options={id(clf): {"zipmap": False}},
    )
    normalize(model)
    if not np.array_equal(clf.classes_, np.arange(n_classes)):
        raise RuntimeError(f"classes must be 0..{n_classes - 1} for an ArgMax label")
    argmax_label_head(model)
    model.ir_version = IR_VERSION
    model.producer_name = "modelstack-examples"
    model.producer_version = "1"
    model.model_version = 1
    model.doc_string = (
        "Handwritten digit classifier (scikit-learn MLPClassifier, one hidden layer of "
        f"{clf.hidden_layer_sizes[0]} ReLU units). Input {INPUT_NAME}: FP32 [N, {n_features}] "
        "= an 8x8 image flattened row by row, intensities 0-16. Outputs label: INT64 [N] "
        f"(the digit), probabilities: FP32 [N, {n_classes}]."
    )
    onnx.helper.set_model_props(
        model,
        {
            "classes": ",".join(str(int(c)) for c in clf.classes_),
            "image_shape": "8,8",
            "pixel_range": "0,16",
            "dataset": "sklearn.datasets.load_digits",
        },
    )
    onnx.checker.check_model(model, full_check=True)
    if tuple(out.name for out in model.graph.output) != OUTPUT_NAMES:
        raise RuntimeError(f"unexpected outputs: {[out.name for out in model.graph.output]}")
    return model


def make_case(session: ort.InferenceSession, name: str, rows: np.ndarray) -> dict[str, Any]:
    label, proba = session.run(list(OUTPUT_NAMES), {INPUT_NAME: rows})
    return {
        "name": name,
        "inputs": {INPUT_NAME: np.round(rows.astype(np.float64), 4).tolist()},
        "label": label.tolist(),
        "probabilities": np.round(proba.astype(np.float64), 4).tolist(),
    }


def smoke_cases(
    session: ort.InferenceSession, x_test: np.ndarray, y_test: np.ndarray
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """One held-out row per digit in SMOKE_DIGITS, plus a batch of the first two."""
    rows = []
    cases: list[dict[str, Any]] = []
    for digit in SMOKE_DIGITS:
        row = x_test[np.flatnonzero(y_test == digit)[:1]]
        case = make_case(session, f"digit-{digit}", row)
        if case["label"] != [digit]:
            raise RuntimeError(f"model mispredicts the digit-{digit} smoke row: {case['label']}")
        rows.append(row)
        cases.append(case)
    batch = np.concatenate(rows[:2]).astype(np.float32)
    case = make_case(session, "batch-of-2", batch)
    if case["label"] != list(SMOKE_DIGITS[:2]):
        raise RuntimeError(f"model mispredicts the batch smoke rows: {case['label']}")
    cases.append(case)
    return cases, batch


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Same layout as ``np.savez`` (readable with ``np.load``), minus the wall-clock timestamp."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def main() -> None:
    clf, x_test, y_test = train()
    payload = convert(clf).SerializeToString()
    MODEL_PATH.write_bytes(payload)

    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    label, proba = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x_test})
    if not np.array_equal(label, clf.predict(x_test)):
        raise RuntimeError("onnxruntime labels differ from scikit-learn")
    np.testing.assert_allclose(proba, clf.predict_proba(x_test), atol=1e-4)

    cases, batch = smoke_cases(session, x_test, y_test)
    text = "[\n" + ",\n".join(f"  {json.dumps(case)}" for case in cases) + "\n]\n"
    SMOKE_PATH.write_text(text)
    write_npz(BATCH_PATH, pixels=batch)
    print(f"smoke cases ({SMOKE_PATH.name}):\n{text}", end="")
    print(f"{BATCH_PATH.name}: pixels {batch.dtype} {list(batch.shape)}")
    print(f"model.onnx sha256: {hashlib.sha256(payload).hexdigest()}")
    print(f"model.onnx size: {len(payload)} bytes")


if __name__ == "__main__":
    main()
