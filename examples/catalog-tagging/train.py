"""Make the catalog-tagging example: digit images, a small classifier, and its label map.

scikit-learn's digits (8x8, values 0-16) are rendered as 32x32 grayscale images and saved as
PNG and JPEG with Pillow; a logistic regression is trained on all but the last HELD_OUT of
them, as the service will see them (decoded, resized to 8x8, scaled to 0-1), and written as a
plain ONNX graph that maps [N, 1, 8, 8] pixels to [N, 10] logits. The held-out digits become
the evaluation set: `eval/` images (PNG and JPEG by turns) named in `eval/held-out.jsonl` with
their label names. Run it from anywhere; it rewrites the files beside it.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

HERE = Path(__file__).resolve().parent
NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SIDE = 32
HELD_OUT = 150


def render(pixels: np.ndarray) -> Image.Image:
    """One digit (8x8, 0-16) as a 32x32 grayscale image."""
    small = Image.fromarray((pixels.reshape(8, 8) * (255 / 16)).round().astype(np.uint8), "L")
    return small.resize((SIDE, SIDE), Image.Resampling.BILINEAR)


def features(image: Image.Image) -> np.ndarray:
    """What the service's pre-processing computes: resize to 8x8, scale to 0-1."""
    small = image.convert("RGB").convert("L").resize((8, 8), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32).reshape(64) / 255


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=95) if fmt == "JPEG" else image.save(buffer, fmt)
    return buffer.getvalue()


def model(weights: np.ndarray, bias: np.ndarray) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Reshape", ["pixels", "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weights"], ["product"]),
        helper.make_node("Add", ["product", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "catalog_tagging",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "weights"),
            numpy_helper.from_array(bias.astype(np.float32), "bias"),
            numpy_helper.from_array(np.array([-1, 64], np.int64), "flat_shape"),
        ],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


def write_evaluation(images: list[Image.Image], targets: np.ndarray) -> None:
    """The held-out digits as image files and a JSON-lines file naming each with its label."""
    folder = HERE / "eval"
    folder.mkdir(exist_ok=True)
    lines = []
    for row, (image, number) in enumerate(zip(images, targets, strict=True)):
        fmt, suffix = ("PNG", "png") if row % 2 == 0 else ("JPEG", "jpg")
        name = f"eval/{row:03d}.{suffix}"
        (HERE / name).write_bytes(encoded(image, fmt))
        lines.append(json.dumps({"image": {"file": name}, "labels": NAMES[int(number)]}))
    (folder / "held-out.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    digest = hashlib.sha256((folder / "held-out.jsonl").read_bytes()).hexdigest()
    print(f"eval/held-out.jsonl sha256 {digest}")


def main() -> None:
    digits = load_digits()
    images = [render(p) for p in digits.data]
    x = np.stack([features(Image.open(io.BytesIO(encoded(i, "PNG")))) for i in images])
    train, truth = x[:-HELD_OUT], digits.target[:-HELD_OUT]
    classifier = LogisticRegression(max_iter=2000).fit(train, truth)
    print(f"training accuracy {classifier.score(train, truth):.3f}")
    print(f"held-out accuracy {classifier.score(x[-HELD_OUT:], digits.target[-HELD_OUT:]):.3f}")
    (HERE / "model.onnx").write_bytes(
        model(classifier.coef_.T, classifier.intercept_).SerializeToString()
    )
    (HERE / "labels.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    folder = HERE / "images"
    folder.mkdir(exist_ok=True)
    for index, fmt in ((0, "PNG"), (3, "JPEG"), (7, "PNG")):
        number = int(digits.target[index])
        suffix = "png" if fmt == "PNG" else "jpg"
        (folder / f"{NAMES[number]}.{suffix}").write_bytes(encoded(images[index], fmt))
    write_evaluation(images[-HELD_OUT:], digits.target[-HELD_OUT:])
    digest = hashlib.sha256((HERE / "model.onnx").read_bytes()).hexdigest()
    print(f"model.onnx sha256 {digest}")


if __name__ == "__main__":
    main()
