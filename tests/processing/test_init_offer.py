"""`modelstack init` offers processing for image-like inputs, and the offer fits the model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack.commands.init import init
from modelstack.lint import lint_file
from modelstack.manifest.model import TensorSpec
from modelstack.modelfile import ModelSignature
from modelstack.processing.offer import image_layout, image_offer

MODEL = Path(__file__).resolve().parents[2] / "examples" / "catalog-tagging" / "model.onnx"


def test_init_writes_an_offer_that_lints_clean_once_uncommented(tmp_path: Path) -> None:
    shutil.copyfile(MODEL, tmp_path / "model.onnx")
    assert init(str(tmp_path / "model.onnx")) == 0
    manifest = tmp_path / "modelstack.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert "  # preprocess:\n  #   image:\n  #     resize: {size: [8, 8]}\n" in text
    assert "grayscale: true" in text and "layout: nchw" in text
    head, offer = text.split("  # preprocess:\n")
    offer, rest = offer.split("targets:\n", 1)
    block = "  preprocess:\n" + offer.replace("  # ", "  ")
    # The recorded smoke test sends pixels: drop it with the offer taken.
    uncommented = head + block + "targets:\n" + rest.split("smoke_tests:")[0]
    manifest.write_text(uncommented, encoding="utf-8")
    assert "\n  preprocess:\n    image:\n" in uncommented
    assert [d.rule_id for d in lint_file(manifest)] == []


@pytest.mark.parametrize(
    ("shape", "datatype", "found"),
    [
        ((-1, 3, 224, 224), "FP32", ("nchw", 3, 224, 224)),
        ((1, 64, 64, 1), "FP16", ("nhwc", 1, 64, 64)),
        ((-1, 3, 224, 224), "INT64", None),
        ((-1, 64), "FP32", None),
        ((-1, 3, -1, -1), "FP32", None),
    ],
)
def test_image_layout(shape: tuple[int, ...], datatype: str, found: object) -> None:
    assert image_layout(TensorSpec("x", datatype, shape)) == found


@given(
    dims=st.tuples(st.integers(-1, 5), st.integers(-1, 5), st.integers(-1, 5), st.integers(-1, 5))
)
def test_an_offer_is_made_only_for_an_image_layout(dims: tuple[int, int, int, int]) -> None:
    spec = TensorSpec("x", "FP32", dims)
    offer = image_offer(ModelSignature((spec,), ()))
    assert bool(offer) == (image_layout(spec) is not None)
    two = image_offer(ModelSignature((spec, TensorSpec("y", "FP32", dims)), ()))
    assert two == ""
