"""The compiled graph against the same steps done by hand with Pillow and numpy."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from PIL import Image
from processing_images import encode, photo

from modelstack.errors import ModelError
from modelstack.manifest.model import ModelSpec
from modelstack.processing.compile import compile_processing
from modelstack.processing.spec import postprocess_from_dict, preprocess_from_dict
from modelstack_runtime.processing import extensions_library


def identity_model(path: Path, shape: list[Any], opset: int = 17) -> Path:
    """y = x (FP32), the model input's shape as given."""
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.register_custom_ops_library(extensions_library())
    return ort.InferenceSession(data, options)


def run_image(tmp_path: Path, image: dict[str, Any], encoded: bytes, shape: list[Any]) -> Any:
    model = identity_model(tmp_path / "m.onnx", shape)
    spec = ModelSpec("m.onnx", "0" * 64, preprocess=preprocess_from_dict({"image": image}))
    compiled = compile_processing(spec, model, tmp_path)
    raw = np.frombuffer(encoded, dtype=np.uint8)
    return session(compiled.data).run(None, {"image": raw})[0]


NCHW = ["N", 3, "H", "W"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_decode_scale_normalise_layout_match_pillow_and_numpy(tmp_path: Path, fmt: str) -> None:
    encoded = encode(photo(), fmt)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    got = run_image(tmp_path, {"mean": mean, "std": std}, encoded, NCHW)
    rgb = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), np.float32)
    want = ((rgb / 255 - mean) / std).transpose(2, 0, 1)[None]
    # libjpeg builds may differ by one grey level in the decoder's IDCT.
    np.testing.assert_allclose(got, want, atol=(2 / 255) / 0.224 if fmt == "JPEG" else 1e-5)


def test_bgr_nhwc_and_scale(tmp_path: Path) -> None:
    encoded = encode(photo())
    got = run_image(
        tmp_path,
        {"channel_order": "bgr", "layout": "nhwc", "scale": 1.0},
        encoded,
        [1, "H", "W", 3],
    )
    rgb = np.asarray(photo(), np.float32)
    np.testing.assert_array_equal(got, rgb[..., ::-1][None])


def test_grayscale_matches_pillow_luminance(tmp_path: Path) -> None:
    encoded = encode(photo())
    got = run_image(tmp_path, {"grayscale": True, "scale": 1.0}, encoded, ["N", 1, "H", "W"])
    want = np.asarray(photo().convert("L"), np.float32)[None, None]
    # Pillow rounds to integer levels; the graph keeps the exact weighted sum.
    np.testing.assert_allclose(got, want, atol=0.51)


def test_grayscale_jpeg_decodes_to_one_channel_and_is_broadcast(tmp_path: Path) -> None:
    gray = photo().convert("L")
    got = run_image(tmp_path, {"scale": 1.0}, encode(gray, "JPEG"), NCHW)
    assert got.shape == (1, 3, 14, 20)
    np.testing.assert_array_equal(got[0, 0], got[0, 2])


def test_resize_and_center_crop_follow_pillow(tmp_path: Path) -> None:
    big = photo(64, 48)
    image = {"resize": {"size": [24, 24], "policy": "shorter_side"}, "center_crop": [16, 16]}
    got = run_image(tmp_path, {**image, "scale": 1.0}, encode(big), NCHW)
    assert got.shape == (1, 3, 16, 16)
    resized = big.resize((32, 24), Image.Resampling.BILINEAR)  # shorter side 48 -> 24
    crop = np.asarray(resized, np.float32)[4:20, 8:24].transpose(2, 0, 1)[None]
    # Pillow and onnxruntime antialias with slightly different filters: close, not equal.
    assert np.abs(got - crop).mean() < 3.0


def test_stretch_resize_gives_the_declared_size(tmp_path: Path) -> None:
    got = run_image(tmp_path, {"resize": {"size": [8, 5]}}, encode(photo(40, 30)), NCHW)
    assert got.shape == (1, 3, 8, 5)


def scores_model(path: Path, columns: int) -> Path:
    return identity_model(path, ["N", columns])


def run_post(tmp_path: Path, post: dict[str, Any], logits: np.ndarray, names: list[str]) -> Any:
    model = scores_model(tmp_path / "m.onnx", logits.shape[1])
    (tmp_path / "labels.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    spec = ModelSpec(
        "m.onnx", "0" * 64, postprocess=postprocess_from_dict({"labels": "labels.txt", **post})
    )
    compiled = compile_processing(spec, model, tmp_path)
    assert not compiled.custom_ops  # post-processing is plain ONNX
    sess = ort.InferenceSession(compiled.data)
    assert [o.name for o in sess.get_outputs()] == ["labels", "scores"]
    return sess.run(None, {"x": logits})


NAMES = ["cat", "dog", "fox", "owl"]
LOGITS = np.array([[0.1, 2.0, -1.0, 0.5], [3.0, -2.0, 0.0, 2.5]], dtype=np.float32)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def test_softmax_top_k_labels(tmp_path: Path) -> None:
    labels, scores = run_post(tmp_path, {"activation": "softmax", "top_k": 2}, LOGITS, NAMES)
    order = np.argsort(-LOGITS, axis=1)[:, :2]
    assert labels.tolist() == [[NAMES[i] for i in row] for row in order]
    np.testing.assert_allclose(scores, np.take_along_axis(softmax(LOGITS), order, 1), rtol=1e-6)


def test_sigmoid_threshold_blanks_labels_below_it(tmp_path: Path) -> None:
    labels, scores = run_post(tmp_path, {"activation": "sigmoid", "threshold": 0.6}, LOGITS, NAMES)
    prob = 1 / (1 + np.exp(-LOGITS))
    order = np.argsort(-prob, axis=1)
    want = [[NAMES[i] if prob[r, i] >= 0.6 else "" for i in row] for r, row in enumerate(order)]
    assert labels.tolist() == want
    np.testing.assert_allclose(scores, np.take_along_axis(prob, order, 1), rtol=1e-6)


def test_binary_threshold_picks_the_second_label_at_or_above_it(tmp_path: Path) -> None:
    logits = np.array([[2.0], [-2.0]], dtype=np.float32)
    post = {"activation": "sigmoid", "threshold": 0.5}
    labels, scores = run_post(tmp_path, post, logits, ["negative", "positive"])
    assert labels.tolist() == [["positive"], ["negative"]]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits)), rtol=1e-6)


def test_record_fields_are_cast_and_joined_in_order(tmp_path: Path) -> None:
    model = identity_model(tmp_path / "m.onnx", ["N", 3])
    fields = [
        {"name": "age", "datatype": "INT64"},
        {"name": "height"},
        {"name": "member", "datatype": "BOOL"},
    ]
    spec = ModelSpec(
        "m.onnx", "0" * 64, preprocess=preprocess_from_dict({"record": {"fields": fields}})
    )
    sess = ort.InferenceSession(compile_processing(spec, model, tmp_path).data)
    assert [i.name for i in sess.get_inputs()] == ["age", "height", "member"]
    feed = {
        "age": np.array([30, 41], np.int64),
        "height": np.array([1.8, 1.6], np.float32),
        "member": np.array([True, False]),
    }
    (got,) = sess.run(None, feed)
    np.testing.assert_allclose(got, [[30, 1.8, 1], [41, 1.6, 0]], rtol=1e-6)


def test_an_older_opset_model_is_converted_and_metadata_recorded(tmp_path: Path) -> None:
    model = identity_model(tmp_path / "m.onnx", ["N", 4], opset=13)
    (tmp_path / "labels.txt").write_text("\n".join(NAMES), encoding="utf-8")
    spec = ModelSpec(
        "m.onnx", "0" * 64, postprocess=postprocess_from_dict({"labels": "labels.txt"})
    )
    compiled = compile_processing(spec, model, tmp_path)
    versions = {o.domain: o.version for o in compiled.model.opset_import}
    assert versions[""] == 18
    meta = {p.key: p.value for p in compiled.model.metadata_props}
    assert "labels.txt" in json.loads(meta["modelstack.processing"])["postprocess"]
    labels, _ = ort.InferenceSession(compiled.data).run(None, {"x": LOGITS})
    assert labels[0, 0] == "dog"


def test_a_named_model_input_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    model = identity_model(tmp_path / "m.onnx", NCHW)
    pre = preprocess_from_dict({"image": {"model_input": "pixels"}})
    with pytest.raises(ModelError, match="no 'pixels'"):
        compile_processing(ModelSpec("m.onnx", "0" * 64, preprocess=pre), model, tmp_path)
