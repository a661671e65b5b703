"""Train a wide MLP on the scikit-learn digits data set and export it to ONNX, with a held-out
evaluation set: the example for `modelstack evaluate` and `modelstack optimize`.

Writes ``model.onnx`` (two hidden layers of 1024 ReLU units, about 4.5 MB of MatMul weights,
big enough for int8 quantisation to matter), ``eval.npz`` (the held-out 25%: ``pixels`` FP32
[450, 64] and ``label`` INT64 [450]) and ``smoke.npz`` (two rows) next to this file. Re-running
the script reproduces all three byte for byte: training is seeded and single-threaded in its
results, the graph name and producer fields are fixed, and the archives carry a fixed timestamp.

Usage: python examples/digits-mlp/make_model.py
"""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from pathlib import Path

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
SEED = 0
HIDDEN = (1024, 1024)
EPOCHS = 40
INPUT_NAME = "pixels"
OUTPUT_NAMES = ("label", "probabilities")
RENAMES = {"output_label": "label", "output_probability": "probabilities"}


def train() -> tuple[MLPClassifier, np.ndarray, np.ndarray]:
    data = load_digits()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    clf = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=EPOCHS, random_state=SEED)
    with warnings.catch_warnings():
        # A fixed number of epochs keeps the run short; the held-out accuracy is what counts.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train / 16.0, y_train)
    print(f"held-out accuracy: {clf.score(x_test / 16.0, y_test):.4f} ({len(y_test)} rows)")
    return clf, x_test, y_test


def drop_input_cast(model: onnx.ModelProto) -> None:
    """skl2onnx casts the FP32 input to FP32; the no-op Cast would stay FP32 after an FP16
    conversion and feed FP16 weights, so it goes."""
    first = model.graph.node[0]
    if first.op_type != "Cast" or first.input[0] != INPUT_NAME:
        return
    for node in model.graph.node[1:]:
        node.input[:] = [INPUT_NAME if n == first.output[0] else n for n in node.input]
    model.graph.node.remove(first)


def convert(clf: MLPClassifier) -> onnx.ModelProto:
    """The classifier on raw pixels (0-16): the 1/16 scaling is folded into the first layer."""
    clf.coefs_[0] = clf.coefs_[0] / 16.0
    model = convert_sklearn(
        clf,
        name="digits_mlp_wide",
        initial_types=[(INPUT_NAME, FloatTensorType([None, int(clf.n_features_in_)]))],
        target_opset={"": 17, "ai.onnx.ml": 3},
        options={id(clf): {"zipmap": False}},
    )
    drop_input_cast(model)
    for node in model.graph.node:
        node.output[:] = [RENAMES.get(n, n) for n in node.output]
        node.input[:] = [RENAMES.get(n, n) for n in node.input]
    for value in (*model.graph.input, *model.graph.output):
        value.name = RENAMES.get(value.name, value.name)
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    versions: dict[str, int] = {}
    for opset in model.opset_import:
        versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    del model.opset_import[:]
    for domain, version in sorted(versions.items()):
        model.opset_import.append(onnx.helper.make_opsetid(domain, version))
    model.ir_version = 8
    model.producer_name = "modelstack-examples"
    model.producer_version = "1"
    model.doc_string = (
        f"Digit classifier, MLP {HIDDEN}. Input {INPUT_NAME}: FP32 [N, 64], an 8x8 image, "
        "intensities 0-16. Outputs label: INT64 [N], probabilities: FP32 [N, 10]."
    )
    onnx.checker.check_model(model, full_check=True)
    if tuple(out.name for out in model.graph.output) != OUTPUT_NAMES:
        raise RuntimeError(f"unexpected outputs: {[out.name for out in model.graph.output]}")
    return model


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Same layout as ``np.savez``, minus the wall-clock timestamp."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def main() -> None:
    clf, x_test, y_test = train()
    payload = convert(clf).SerializeToString()
    (HERE / "model.onnx").write_bytes(payload)
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    label, _ = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x_test})
    if not np.array_equal(label, clf.predict(x_test)):  # the scaling is folded in now
        raise RuntimeError("onnxruntime labels differ from scikit-learn")
    write_npz(HERE / "eval.npz", pixels=x_test, label=y_test)
    smoke = x_test[[int(np.flatnonzero(y_test == d)[0]) for d in (0, 7)]]
    write_npz(HERE / "smoke.npz", pixels=smoke)
    for name in ("model.onnx", "eval.npz", "smoke.npz"):
        data = (HERE / name).read_bytes()
        print(f"{name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
