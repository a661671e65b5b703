"""Train the two models of the cascade example on the scikit-learn digits data set and export
them to ONNX, with the held-out evaluation set and the smoke-test inputs.

* ``small/model.onnx``: multinomial logistic regression on the 64 pixels (about 3 KB). It is
  right on about 97% of the held-out digits and sure of most of them.
* ``large/model.onnx``: an MLP with one hidden layer of 256 ReLU units (about 80 KB), right on
  about 98.7%.

Both take ``pixels`` FP32 [N, 64] (an 8x8 image, raw intensities 0-16; the 1/16 scaling is
folded into the first layer) and answer ``label`` INT64 [N] and ``probabilities`` FP32 [N, 10].
``small/eval.npz`` is the stratified 25% held-out split (450 rows: ``pixels``, ``label``),
never seen in training. ``small/smoke.npz`` holds two held-out digits the small model is sure
of, ``small/unsure.npz`` one it is not (the cascade escalates it), ``large/smoke.npz`` two rows
for the large model's own smoke test.

Re-running the script reproduces every file byte for byte: training is seeded, the graph names
and producer fields are fixed, and the archives carry a fixed timestamp.

Usage: python examples/cascade/train.py [--out DIR]   (DIR defaults to this file's folder)
"""

from __future__ import annotations

import argparse
import hashlib
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
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent
SEED = 0
HIDDEN = (256,)
INPUT_NAME = "pixels"
OUTPUT_NAMES = ("label", "probabilities")
RENAMES = {"output_label": "label", "output_probability": "probabilities"}
SURE = 0.99
"""The smoke digits of the small model are ones it gives at least this probability."""


def split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = load_digits()
    x = data.data.astype(np.float32)
    y = data.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=SEED, stratify=y
    )
    return x_train, x_test, y_train, y_test


def train(x: np.ndarray, y: np.ndarray) -> tuple[LogisticRegression, MLPClassifier]:
    small = LogisticRegression(C=1.0, max_iter=2000, random_state=SEED)
    small.fit(x / 16.0, y)
    large = MLPClassifier(hidden_layer_sizes=HIDDEN, max_iter=300, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        large.fit(x / 16.0, y)
    small.coef_ = small.coef_ / 16.0  # raw pixels in: fold the scaling into the weights
    large.coefs_[0] = large.coefs_[0] / 16.0
    return small, large


def drop_input_cast(model: onnx.ModelProto) -> None:
    """skl2onnx may cast the FP32 input to FP32 first; the no-op Cast goes."""
    first = model.graph.node[0]
    if first.op_type != "Cast" or first.input[0] != INPUT_NAME:
        return
    for node in model.graph.node[1:]:
        node.input[:] = [INPUT_NAME if n == first.output[0] else n for n in node.input]
    model.graph.node.remove(first)


def convert(clf: Any, name: str, about: str) -> bytes:
    model = convert_sklearn(
        clf,
        name=name,
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
        f"Digit classifier, {about}. Input {INPUT_NAME}: FP32 [N, 64], an 8x8 image, "
        "intensities 0-16. Outputs label: INT64 [N], probabilities: FP32 [N, 10]."
    )
    onnx.checker.check_model(model, full_check=True)
    if tuple(out.name for out in model.graph.output) != OUTPUT_NAMES:
        raise RuntimeError(f"unexpected outputs: {[out.name for out in model.graph.output]}")
    return bytes(model.SerializeToString())


def predict(payload: bytes, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    label, probabilities = session.run(list(OUTPUT_NAMES), {INPUT_NAME: x})
    return np.asarray(label), np.asarray(probabilities)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """Same layout as ``np.savez``, minus the wall-clock timestamp."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def report(small: np.ndarray, large: np.ndarray, y: np.ndarray) -> None:
    print(f"held-out rows: {len(y)}")
    print(f"small alone: accuracy {np.mean(small.argmax(axis=1) == y):.4f}")
    print(f"large alone: accuracy {np.mean(large.argmax(axis=1) == y):.4f}")
    for threshold in (0.6, 0.7, 0.8, 0.9):
        unsure = small.max(axis=1) < threshold
        answer = np.where(unsure, large.argmax(axis=1), small.argmax(axis=1))
        print(f"cascade at max_prob_below {threshold}: accuracy {np.mean(answer == y):.4f}, "
              f"{unsure.mean():.1%} escalated")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for small/ and large/")
    out: Path = parser.parse_args().out
    x_train, x_test, y_train, y_test = split()
    small, large = train(x_train, y_train)
    models = {
        "small": convert(small, "digits_logreg", "multinomial logistic regression"),
        "large": convert(large, "digits_mlp_256", f"MLP {HIDDEN}"),
    }
    outputs = {name: predict(payload, x_test) for name, payload in models.items()}
    for name, clf in (("small", small), ("large", large)):
        if not np.array_equal(outputs[name][0], clf.predict(x_test)):
            raise RuntimeError(f"onnxruntime labels of the {name} model differ from scikit-learn")
    small_p, large_p = outputs["small"][1], outputs["large"][1]
    report(small_p, large_p, y_test)
    right = (small_p.argmax(axis=1) == y_test) & (large_p.argmax(axis=1) == y_test)
    sure = np.flatnonzero(right & (small_p.max(axis=1) >= SURE))
    unsure = np.flatnonzero(right & (small_p.max(axis=1) < 0.6))
    picks = [int(next(i for i in sure if y_test[i] == d)) for d in (0, 7)]
    for name in models:
        (out / name).mkdir(parents=True, exist_ok=True)
        (out / name / "model.onnx").write_bytes(models[name])
    write_npz(out / "small" / "eval.npz", pixels=x_test, label=y_test)
    write_npz(out / "small" / "smoke.npz", pixels=x_test[picks])
    write_npz(out / "small" / "unsure.npz", pixels=x_test[unsure[:1]])
    write_npz(out / "large" / "smoke.npz", pixels=x_test[picks])
    first = int(unsure[0])
    print(f"smoke digits: {[int(y_test[i]) for i in picks]}, unsure digit: {int(y_test[first])} "
          f"(small model's top probability {small_p[first].max():.3f})")  # fmt: skip
    for path in sorted(out.glob("*/*.onnx")) + sorted(out.glob("*/*.npz")):
        data = path.read_bytes()
        name = path.relative_to(out)
        print(f"{name}: {len(data):,} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
