"""Smoke cases as arrays: inline inputs, shapes, and inputs files kept inside the bundle."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.errors import SmokeTestError
from modelstack.lint import lint_file
from modelstack.manifest import load_manifest
from modelstack.manifest.model import TensorSpec
from modelstack.smoke.cases import MAX_INPUTS_FILE_BYTES, SmokeCase, load_cases
from modelstack.smoke.inputs_file import count_values, npz_headers
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
    with pytest.raises(
        SmokeTestError,
        match=r"smoke test 'huge': cannot read huge\.npz: the file is 67,108,865 bytes, over "
        r"the limit .*MODELSTACK_MAX_INPUTS_FILE_BYTES",
    ):
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
    assert "member 'x' is an object array, which only unpickling can load" in str(caught.value)


def test_a_json_inputs_file_naming_an_unknown_input_is_refused(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: typo\n    inputs_file: typo.json\n"))
    (path.parent / "typo.json").write_text('{"featurez": [[1.0, 2.0]]}')
    with pytest.raises(SmokeTestError, match=r"smoke test 'typo'.*no input 'featurez'"):
        cases(path)


# -- bounds on what an inputs file may expand into ----------------------------------------


def write_zeros_npz(path: Path, name: str, shape: tuple[int, ...], dtype: str = "<f4") -> None:
    """A compressed .npz whose member really decompresses to zeros of `shape` (written in
    chunks, so the test never holds the array)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": dtype, "fortran_order": False, "shape": shape}
    )
    remaining = int(np.prod(shape)) * np.dtype(dtype).itemsize
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"{name}.npy", "w", force_zip64=True) as member,
    ):
        member.write(header.getvalue())
        while remaining:
            chunk = min(remaining, 1 << 20)
            member.write(bytes(chunk))
            remaining -= chunk


def test_an_npz_bomb_is_refused_from_its_headers(
    write_bundle: WriteBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_bundle(extra=smoke("  - name: bomb\n    inputs_file: bomb.npz\n"))
    write_zeros_npz(path.parent / "bomb.npz", "x", (65_536, 4))  # 1 MiB of float32 zeros
    assert (path.parent / "bomb.npz").stat().st_size < 10_000
    monkeypatch.setenv("MODELSTACK_MAX_SMOKE_INPUT_BYTES", str(2**20 - 1))
    with pytest.raises(SmokeTestError) as caught:
        cases(path)
    message = str(caught.value)
    assert "smoke test 'bomb': cannot read bomb.npz: its arrays hold 1,048,576 bytes" in message
    assert "'x' [65536, 4] <f4" in message and "MODELSTACK_MAX_SMOKE_INPUT_BYTES" in message
    found = [d for d in lint_file(path) if d.rule_id == "MS203"]
    assert [d.line for d in found] == [14] and "1,048,576 bytes" in found[0].message
    monkeypatch.setenv("MODELSTACK_MAX_SMOKE_INPUT_BYTES", str(2**20))
    [case] = cases(path)
    assert case.inputs["x"].shape == (65_536, 4)


def test_the_default_bound_refuses_the_67m_row_bomb_without_decompressing(
    write_bundle: WriteBundle,
) -> None:
    path = write_bundle(extra=smoke("  - name: bomb\n    inputs_file: bomb.npz\n"))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (67_108_864, 4)}
    )
    with zipfile.ZipFile(path.parent / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", header.getvalue())  # the header alone: no data to inflate
    with pytest.raises(SmokeTestError, match=r"1,073,741,824 bytes once decompressed"):
        cases(path)


def dtypes() -> st.SearchStrategy[str]:
    return st.sampled_from(["<f4", "<f8", "<f2", "|b1", "|u1", "<i8", "<u4", ">i2", "<U3", "|S5"])


@settings(max_examples=60, deadline=None)
@given(dtype=dtypes(), shape=st.lists(st.integers(0, 5), max_size=4).map(tuple))
def test_npz_headers_agree_with_numpy(dtype: str, shape: tuple[int, ...]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, a=np.zeros(shape, dtype=dtype), b=np.ones((2,), dtype=dtype))
    headers = npz_headers(buffer.getvalue())
    assert [(h.name, h.shape) for h in headers] == [("a", shape), ("b", (2,))]
    assert headers[0].nbytes == np.zeros(shape, dtype=dtype).nbytes


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.sampled_from([b"", b"\x93NUMPY\x01\x00", b"\x93NUMPY\x02\x00"]))
def test_npz_headers_refuse_garbage_with_value_error(body: bytes, prefix: bytes) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.npy", prefix + body)
    for raw in (buffer.getvalue(), body):
        try:
            npz_headers(raw)
        except ValueError as exc:
            assert str(exc)


@settings(max_examples=300, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4))
def test_npz_headers_refuse_a_damaged_archive_with_value_error(
    flips: list[tuple[int, int]],
) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.arange(12, dtype="<f4").reshape(3, 4))
    raw = bytearray(buffer.getvalue())
    for offset, mask in flips:
        raw[offset % len(raw)] ^= mask
    try:
        headers = npz_headers(bytes(raw))
    except ValueError as exc:
        assert str(exc)
    else:
        assert all(h.nbytes >= 0 for h in headers)


def test_a_deeply_nested_json_inputs_file_is_a_clear_error(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke("  - name: deep\n    inputs_file: deep.json\n"))
    (path.parent / "deep.json").write_text('{"x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(
        SmokeTestError, match=r"smoke test 'deep': cannot read deep\.json: .*nested"
    ):
        cases(path)
    (path.parent / "deep.json").write_text('{"x": ' + "[" * 70 + "1" + "]" * 70 + "}")
    with pytest.raises(SmokeTestError, match=r"nested more than 64 levels"):
        cases(path)
    assert [d.rule_id for d in lint_file(path)].count("MS203") == 1


@pytest.mark.parametrize("form", ["inline", "json"])
def test_the_value_count_of_inputs_is_bounded_by_a_setting(
    form: str, write_bundle: WriteBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    if form == "inline":
        path = write_bundle(
            extra=smoke(inline("many", "        data: [[1, 2, 3, 4], [5, 6, 7, 8]]\n"))
        )
    else:
        path = write_bundle(extra=smoke("  - name: many\n    inputs_file: many.json\n"))
        (path.parent / "many.json").write_text('{"x": [[1, 2, 3, 4], [5, 6, 7, 8]]}')
    monkeypatch.setenv("MODELSTACK_MAX_SMOKE_INPUT_VALUES", "7")
    with pytest.raises(
        SmokeTestError, match=r"'many'.*8 values.*MODELSTACK_MAX_SMOKE_INPUT_VALUES"
    ):
        cases(path)
    monkeypatch.setenv("MODELSTACK_MAX_SMOKE_INPUT_VALUES", "8")
    assert cases(path)[0].inputs["x"].shape == (2, 4)


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.integers(), lambda inner: st.lists(inner, max_size=4), max_leaves=40))
def test_count_values_counts_every_scalar(data: object) -> None:
    def leaves(item: object) -> int:
        return sum(leaves(i) for i in item) if isinstance(item, list) else 1

    assert count_values(data) == leaves(data)


def test_an_inputs_file_that_is_a_fifo_is_refused_without_waiting(
    write_bundle: WriteBundle,
) -> None:
    path = write_bundle(extra=smoke("  - name: pipe\n    inputs_file: pipe.json\n"))
    os.mkfifo(path.parent / "pipe.json")
    with pytest.raises(SmokeTestError, match=r"'pipe\.json' cannot be used: it is a FIFO"):
        cases(path)


def test_a_nul_byte_in_inputs_file_is_a_positioned_error(write_bundle: WriteBundle) -> None:
    path = write_bundle(extra=smoke('  - name: nul\n    inputs_file: "in\\0.json"\n'))
    with pytest.raises(SmokeTestError, match=r"modelstack\.yaml:13:5: smoke test 'nul': .*NUL"):
        cases(path)
    [diagnostic] = [d for d in lint_file(path) if d.rule_id == "MS203"]
    assert (diagnostic.line, diagnostic.column) == (14, 18)
