"""The spec parser: every schema-valid step list parses, and what a schema cannot say is caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack import ManifestError, load_manifest
from modelstack.manifest.validator import SchemaIssue, validate
from modelstack.processing.spec import (
    ImageSpec,
    ProcessingSpecError,
    RecordSpec,
    postprocess_from_dict,
    preprocess_from_dict,
)
from modelstack.resources import load_schema

MODEL_SCHEMA = load_schema()["properties"]["model"]


def model_issues(model: dict[str, Any]) -> list[SchemaIssue]:
    """Schema issues of a `model:` mapping (path and sha256 filled in)."""
    return validate({"path": "m.onnx", "sha256": "ab" * 32, **model}, MODEL_SCHEMA)


sides = st.lists(st.integers(1, 512), min_size=2, max_size=2)
channel_values = st.lists(st.floats(0.01, 10, allow_nan=False), min_size=1, max_size=3)
images = st.fixed_dictionaries(
    {},
    optional={
        "input": st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
        "formats": st.lists(st.sampled_from(["jpeg", "png"]), min_size=1, max_size=2),
        "max_pixels": st.integers(1, 1 << 28),
        "resize": st.fixed_dictionaries(
            {"size": sides}, optional={"policy": st.sampled_from(["stretch", "shorter_side"])}
        ),
        "center_crop": sides,
        "channel_order": st.sampled_from(["rgb", "bgr"]),
        "grayscale": st.booleans(),
        "scale": st.floats(1e-6, 10, allow_nan=False),
        "mean": channel_values,
        "std": channel_values,
        "layout": st.sampled_from(["nchw", "nhwc"]),
    },
)


@settings(max_examples=200, deadline=None)
@given(image=images)
def test_a_schema_valid_image_step_parses_or_names_its_problem(image: dict[str, Any]) -> None:
    document = {"image": image}
    assert not model_issues({"preprocess": document})
    try:
        spec = preprocess_from_dict(document)
    except ProcessingSpecError as exc:
        assert exc.path[:3] == ("model", "preprocess", "image")
        assert "model.preprocess.image." in str(exc)
        return
    assert isinstance(spec, ImageSpec)
    assert spec.formats == tuple(dict.fromkeys(image.get("formats", ["jpeg", "png"])))
    shape = spec.output_shape()
    assert shape[0] == 1 and spec.channels in shape
    if "center_crop" in image:
        assert spec.output_hw() == tuple(image["center_crop"])
    for key in ("mean", "std"):
        if key in image:
            assert len(image[key]) in (1, spec.channels)


def test_mean_with_the_wrong_count_names_the_key() -> None:
    with pytest.raises(ProcessingSpecError) as info:
        preprocess_from_dict({"image": {"grayscale": True, "mean": [0.1, 0.2, 0.3]}})
    assert info.value.path == ("model", "preprocess", "image", "mean")
    assert "3 values for 1 channel(s)" in str(info.value)


def test_shorter_side_needs_a_crop_and_a_crop_must_fit() -> None:
    with pytest.raises(ProcessingSpecError, match="add `center_crop"):
        preprocess_from_dict({"image": {"resize": {"size": [8, 8], "policy": "shorter_side"}}})
    with pytest.raises(ProcessingSpecError, match="larger than the resized image"):
        preprocess_from_dict({"image": {"resize": {"size": [8, 8]}, "center_crop": [9, 8]}})


@given(names=st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1, max_size=8))
def test_record_fields_keep_their_order_and_refuse_repeats(names: list[str]) -> None:
    fields = [{"name": n} for n in names]
    if len(set(names)) < len(names):
        with pytest.raises(ProcessingSpecError, match="is named twice"):
            preprocess_from_dict({"record": {"fields": fields}})
        return
    spec = preprocess_from_dict({"record": {"fields": fields}})
    assert isinstance(spec, RecordSpec)
    assert [f.name for f in spec.fields] == names
    assert all(f.datatype == "FP32" for f in spec.fields)


def test_both_kinds_are_refused() -> None:
    with pytest.raises(ProcessingSpecError, match="either `image` or `record`"):
        preprocess_from_dict({"image": {}, "record": {"fields": [{"name": "a"}]}})


def test_postprocess_defaults() -> None:
    spec = postprocess_from_dict({"labels": "l.txt"})
    assert (spec.activation, spec.top_k, spec.threshold, spec.output) == ("none", None, None, None)


def test_a_manifest_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "modelstack.yaml"
    path.write_text(
        "apiVersion: modelstack.dev/v1\nkind: ModelService\n"
        "metadata: {name: m, version: '1'}\n"
        f"model:\n  path: m.onnx\n  sha256: {'ab' * 32}\n"
        "  preprocess:\n    image:\n      grayscale: true\n      mean: [0.1, 0.2]\n"
        "targets: {dev: {provider: local}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert f"{path}:10:13: model.preprocess.image.mean: 2 values" in str(info.value)


def test_the_schema_refuses_an_unknown_step() -> None:
    issues = model_issues({"preprocess": {"image": {"blur": 3}}})
    assert any("blur" in issue.message for issue in issues)
