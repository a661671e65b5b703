"""Smoke cases as arrays: inline inputs, shapes, and inputs files kept inside the bundle."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelstack.errors import SmokeTestError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import TensorSpec
from modelstack.smoke.cases import MAX_INPUTS_FILE_BYTES, SmokeCase, load_cases
from modelstack.smoke.local import prepare_local

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "examples" / "digits-gpu" / "modelstack.yaml"

WriteBundle = Callable[..., Path]


def cases(manifest_path: Path) -> list[SmokeCase]:
    """The decoded cases, with datatypes from the identity model's real signature."""
    return prepare_local(load_manifest(manifest_path)).cases


def smoke(*tests: str) -> str:
    return "smoke_tests:\n" + "".join(tests)


def inline(name: str, body: str) -> str:
    return f"  - name: {name}\n    inputs:\n      x:\n{body}"


# -- inline inputs ------------------------------------------------------------------------


def test_inline_inputs_take_the_models_datatype(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke(inline("ints", "        data: [[1, 2, 3, 4]]\n")))
    [case] = cases(path)
    assert case.name == "ints"
    x = case.inputs["x"]
    assert x.dtype == np.float32  # the identity model's input is FP32, the YAML has ints
    assert x.shape == (1, 4)
    assert x.tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_inline_datatype_overrides_the_model(write_bundle: WriteBundle) -> None:
    body = "        data: [[1, 2, 3, 4]]\n        datatype: FP64\n"
    [case] = cases(write_bundle(extra=smoke(inline("wide", body))))
    assert case.inputs["x"].dtype == np.float64


def test_datatypes_come_from_the_given_specs() -> None:
    manifest = load_manifest(ROOT / "examples" / "iris" / "modelstack.yaml")
    found = load_cases(manifest, (TensorSpec("float_input", "FP16", (-1, 4)),))
    assert [c.inputs["float_input"].dtype for c in found] == [np.float16] * 3


def test_explicit_shape_reshapes_after_checking_the_length(write_bundle: WriteBundle) -> None:
    body = "        data: [1, 2, 3, 4, 5, 6, 7, 8]\n        shape: [2, 4]\n"
    [case] = cases(write_bundle(extra=smoke(inline("flat", body))))
    assert case.inputs["x"].shape == (2, 4)
    assert case.inputs["x"][1].tolist() == [5.0, 6.0, 7.0, 8.0]


def test_shape_that_does_not_fit_is_a_clear_error(write_bundle: WriteBundle) -> None:
    ok = inline("fine", "        data: [[1, 2, 3, 4]]\n")
    bad = inline("short", "        data: [1, 2, 3]\n        shape: [1, 4]\n")
    path = write_bundle(extra=smoke(ok, bad))
    # The second case starts on the line after the first one's 4 lines.
    lines = path.read_text().splitlines()
    line = lines.index("  - name: short") + 1
    with pytest.raises(SmokeTestError) as caught:
        cases(path)
    message = str(caught.value)
    assert re.match(
        rf"^{re.escape(str(path))}:{line}:\d+: smoke test 'short': input 'x': ", message
    )
    assert "3 values cannot fill shape [1, 4] (4 values)" in message


def test_values_that_cannot_be_the_datatype_are_a_clear_error(write_bundle: WriteBundle) -> None:
    body = "        data: [300]\n        datatype: INT8\n"
    with pytest.raises(SmokeTestError, match=r"smoke test 'big': input 'x': .*300"):
        cases(write_bundle(extra=smoke(inline("big", body))))


def test_unknown_input_name(write_bundle: WriteBundle) -> None:
    extra = smoke("  - name: typo\n    inputs:\n      z:\n        data: [1.0]\n")
    with pytest.raises(SmokeTestError, match="smoke test 'typo': the model has no input 'z'"):
        cases(write_bundle(extra=extra))


# -- inputs files -------------------------------------------------------------------------


def test_digits_batch_npz_is_loaded_as_stored() -> None:
    found = {c.name: c for c in cases(DIGITS)}
    batch = found["batch-of-2"].inputs
    with np.load(DIGITS.parent / "batch.npz") as stored:
        assert set(batch) == set(stored.files) == {"pixels"}
        np.testing.assert_array_equal(batch["pixels"], stored["pixels"])
    assert batch["pixels"].shape == (2, 64)
    assert batch["pixels"].dtype == np.float32


def test_npz_inputs_file(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: file\n    inputs_file: in.npz\n"))
    np.savez(path.parent / "in.npz", x=np.arange(8, dtype=np.float32).reshape(2, 4))
    [case] = cases(path)
    assert case.name == "file"
    assert case.inputs["x"].dtype == np.float32
    assert case.inputs["x"].tolist() == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_json_inputs_file_takes_the_models_datatype(
    write_bundle: WriteBundle, identity_model: bytes
) -> None:
    files = {
        "model.onnx": identity_model,
        "cases/in.json": json.dumps({"x": [[1, 2, 3, 4], [5, 6, 7, 8]]}).encode(),
    }
    path = write_bundle(
        extra=smoke("  - name: json\n    inputs_file: cases/in.json\n"), files=files
    )
    [case] = cases(path)
    assert case.inputs["x"].dtype == np.float32
    assert case.inputs["x"].shape == (2, 4)
    assert case.inputs["x"][1].tolist() == [5.0, 6.0, 7.0, 8.0]


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"[1, 2, 3]", "must map input names to nested lists"),
        (b'{"x": [[1, 2, 3, {"a": 1}]]}', "cannot read bad.json"),
        (b"{not json", "cannot read bad.json"),
        (b"\xff\xfe\x00", "cannot read bad.json"),
    ],
    ids=["list", "dict-values", "syntax", "not-utf8"],
)
def test_bad_json_inputs_file(
    write_bundle: WriteBundle, identity_model: bytes, content: bytes, detail: str
) -> None:
    files = {"model.onnx": identity_model, "bad.json": content}
    path = write_bundle(extra=smoke("  - name: j\n    inputs_file: bad.json\n"), files=files)
    with pytest.raises(SmokeTestError, match=rf"smoke test 'j': .*{re.escape(detail)}"):
        cases(path)


@pytest.mark.parametrize(
    "content", [b"", b"PK\x03\x04 not really a zip", b"neither zip nor npy"], ids=str
)
def test_corrupt_npz_is_a_smoke_test_error(
    write_bundle: WriteBundle, identity_model: bytes, content: bytes
) -> None:
    files = {"model.onnx": identity_model, "in.npz": content}
    path = write_bundle(extra=smoke("  - name: z\n    inputs_file: in.npz\n"), files=files)
    with pytest.raises(SmokeTestError, match=r"smoke test 'z': cannot read in\.npz"):
        cases(path)


def test_inputs_file_escaping_the_bundle_is_refused(
    write_bundle: WriteBundle, tmp_path: Path
) -> None:
    np.savez(tmp_path / "outside.npz", x=np.zeros((1, 4), dtype=np.float32))
    path = write_bundle(extra=smoke("  - name: escape\n    inputs_file: ../outside.npz\n"))
    with pytest.raises(SmokeTestError) as caught:
        cases(path)
    message = str(caught.value)
    assert "smoke test 'escape'" in message
    assert "'../outside.npz' leads outside the manifest's folder" in message


def test_inputs_file_symlink_out_of_the_bundle_is_refused(
    write_bundle: WriteBundle, tmp_path: Path
) -> None:
    np.savez(tmp_path / "outside.npz", x=np.zeros((1, 4), dtype=np.float32))
    path = write_bundle(extra=smoke("  - name: link\n    inputs_file: in.npz\n"))
    (path.parent / "in.npz").symlink_to(tmp_path / "outside.npz")
    with pytest.raises(SmokeTestError, match="leads outside the manifest's folder through a sym"):
        cases(path)


def test_missing_inputs_file(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: gone\n    inputs_file: nope.json\n"))
    with pytest.raises(SmokeTestError, match=r"smoke test 'gone': .*'nope\.json' does not exist"):
        cases(path)


def test_oversize_inputs_file_is_refused(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: huge\n    inputs_file: huge.npz\n"))
    huge = path.parent / "huge.npz"
    with huge.open("wb") as handle:  # sparse: no disk space is used
        handle.truncate(MAX_INPUTS_FILE_BYTES + 1)
    assert os.path.getsize(huge) == MAX_INPUTS_FILE_BYTES + 1
    with pytest.raises(SmokeTestError, match=r"smoke test 'huge': huge\.npz is larger than 64 MiB"):
        cases(path)


def test_inputs_file_at_the_limit_is_read(write_bundle: WriteBundle) -> None:
    # A JSON file padded with spaces to exactly the limit is still accepted.
    path = write_bundle(extra=smoke("  - name: edge\n    inputs_file: edge.json\n"))
    body = json.dumps({"x": [[1, 2, 3, 4]]}).encode()
    (path.parent / "edge.json").write_bytes(body + b" " * (MAX_INPUTS_FILE_BYTES - len(body)))
    [case] = cases(path)
    assert case.inputs["x"].tolist() == [[1.0, 2.0, 3.0, 4.0]]


def test_pickled_object_array_is_refused(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: pickle\n    inputs_file: evil.npz\n"))
    np.savez(path.parent / "evil.npz", x=np.array([{"payload": 1}], dtype=object))
    with pytest.raises(SmokeTestError) as caught:
        cases(path)
    assert "smoke test 'pickle': cannot read evil.npz" in str(caught.value)
    assert "allow_pickle=False" in str(caught.value)


def test_a_json_inputs_file_naming_an_unknown_input_is_refused(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: typo\n    inputs_file: typo.json\n"))
    (path.parent / "typo.json").write_text('{"featurez": [[1.0, 2.0]]}')
    with pytest.raises(SmokeTestError, match=r"smoke test 'typo'.*no input 'featurez'"):
        cases(path)
