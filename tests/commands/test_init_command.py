"""`modelstack init`: a manifest from a model that lints clean and whose recorded test passes."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from modelstack.manifest import load_manifest
from modelstack.manifest.model import AwsLambdaTarget, CloudRunTarget, LocalTarget

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
V2_DATATYPE = {TensorProto.FLOAT: "FP32", TensorProto.INT64: "INT64", TensorProto.BOOL: "BOOL"}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelstack", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def scaled_model() -> onnx.ModelProto:
    """y = x * 2 + 1 (FP32 [N, 4]) and s = ReduceSum(x) over the last axis (FP32 [N])."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N"])
    two = helper.make_tensor("two", TensorProto.FLOAT, [], [2.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    axes = helper.make_tensor("axes", TensorProto.INT64, [1], [-1])
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["twice"]),
        helper.make_node("Add", ["twice", "one"], ["y"]),
        helper.make_node("ReduceSum", ["x", "axes"], ["s"], keepdims=0),
    ]
    graph = helper.make_graph(nodes, "scaled", [x], [y, s], [two, one, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def int_bool_model() -> onnx.ModelProto:
    """total = ids + Cast(mask) (INT64 [N, 3]); flipped = Not(mask) (BOOL [N, 3])."""
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 3])
    mask = helper.make_tensor_value_info("mask", TensorProto.BOOL, ["N", 3])
    total = helper.make_tensor_value_info("total", TensorProto.INT64, ["N", 3])
    flipped = helper.make_tensor_value_info("flipped", TensorProto.BOOL, ["N", 3])
    nodes = [
        helper.make_node("Cast", ["mask"], ["mask_int"], to=TensorProto.INT64),
        helper.make_node("Add", ["ids", "mask_int"], ["total"]),
        helper.make_node("Not", ["mask"], ["flipped"]),
    ]
    graph = helper.make_graph(nodes, "int_bool", [ids, mask], [total, flipped])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def onnx_signature(path: Path) -> dict[str, list[tuple[str, str, tuple[int, ...]]]]:
    model = onnx.load(str(path))

    def specs(values: Any) -> list[tuple[str, str, tuple[int, ...]]]:
        return [
            (
                v.name,
                V2_DATATYPE[v.type.tensor_type.elem_type],
                tuple(
                    d.dim_value if d.HasField("dim_value") else -1
                    for d in v.type.tensor_type.shape.dim
                ),
            )
            for v in values
        ]

    return {"inputs": specs(model.graph.input), "outputs": specs(model.graph.output)}


def manifest_signature(path: Path) -> dict[str, list[tuple[str, str, tuple[int, ...]]]]:
    model = load_manifest(path).model
    assert model.inputs is not None and model.outputs is not None
    return {
        "inputs": [(t.name, t.datatype, t.shape) for t in model.inputs],
        "outputs": [(t.name, t.datatype, t.shape) for t in model.outputs],
    }


def assert_usable(manifest: Path, model: Path) -> None:
    """Lints clean, the recorded smoke test really passes, signature and digest match."""
    lint = run("lint", manifest)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    test = run("test", manifest)
    assert test.returncode == 0, test.stdout + test.stderr
    assert re.search(r"^  PASS  recorded  ", test.stdout, re.M)
    assert "1 passed, 0 failed" in test.stdout
    assert manifest_signature(manifest) == onnx_signature(model)
    loaded = load_manifest(manifest)
    assert loaded.model.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert [t.name for t in loaded.smoke_tests] == ["recorded"]


@pytest.mark.parametrize(
    ("provider", "gpu", "kind"),
    [
        ("local", False, LocalTarget),
        ("aws-lambda", False, AwsLambdaTarget),
        ("gcp-cloud-run", False, CloudRunTarget),
        ("gcp-cloud-run", True, CloudRunTarget),
    ],
    ids=["local", "aws-lambda", "gcp-cloud-run", "gcp-cloud-run-gpu"],
)
def test_init_for_each_provider(tmp_path: Path, provider: str, gpu: bool, kind: type) -> None:
    model = save(scaled_model(), tmp_path / "scaled.onnx")
    result = run("init", model, "--provider", provider, *(["--gpu"] if gpu else []))
    assert result.returncode == 0, result.stderr
    manifest = tmp_path / "modelstack.yaml"
    assert f"wrote {manifest}" in result.stdout
    assert_usable(manifest, model)
    loaded = load_manifest(manifest)
    assert loaded.name == "scaled"
    assert loaded.model.path == "scaled.onnx"
    [target] = loaded.targets.values()
    assert isinstance(target, kind)
    assert target.provider == provider
    if isinstance(target, CloudRunTarget):
        assert (target.gpu is not None) == gpu
        if target.gpu is not None:
            assert target.gpu.type == "nvidia-l4"
    # The recorded expectation is the model's real answer (y = 2x + 1, s = sum x).
    [test] = loaded.smoke_tests
    assert test.inputs is not None
    x = np.asarray(test.inputs["x"].data, dtype=np.float32)
    assert x.shape == (1, 4)
    np.testing.assert_allclose(test.expected_outputs["y"].data, 2 * x + 1, rtol=1e-5)
    np.testing.assert_allclose(test.expected_outputs["s"].data, x.sum(axis=-1), rtol=1e-5)


def test_recorded_test_is_real(tmp_path: Path) -> None:
    """Swap in a different model with the same signature: the recorded test must now fail."""
    model = save(scaled_model(), tmp_path / "m.onnx")
    assert run("init", model).returncode == 0
    manifest = tmp_path / "modelstack.yaml"
    other = scaled_model()
    other.graph.initializer[0].CopyFrom(helper.make_tensor("two", TensorProto.FLOAT, [], [3.0]))
    save(other, model)
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    text = re.sub(r"sha256: [0-9a-f]{64}", f"sha256: {digest}", manifest.read_text())
    manifest.write_text(text)
    result = run("test", manifest)
    assert result.returncode == 1
    assert "FAIL  recorded" in result.stdout
    assert "'y': " in result.stdout


def test_int64_and_bool_inputs(tmp_path: Path) -> None:
    model = save(int_bool_model(), tmp_path / "masks.onnx")
    result = run("init", model)
    assert result.returncode == 0, result.stderr
    manifest = tmp_path / "modelstack.yaml"
    assert_usable(manifest, model)
    [test] = load_manifest(manifest).smoke_tests
    assert test.inputs is not None
    ids, mask = test.inputs["ids"].data, test.inputs["mask"].data
    # Integers stay integers (not 0.37), booleans stay booleans (not 0/1), batch of one.
    assert [len(ids), len(ids[0])] == [1, 3]
    assert all(type(v) is int and 0 <= v < 10 for v in ids[0])
    assert [len(mask), len(mask[0])] == [1, 3]
    assert all(type(v) is bool for v in mask[0])
    total = test.expected_outputs["total"]
    flipped = test.expected_outputs["flipped"]
    assert total.data == [[i + int(m) for i, m in zip(ids[0], mask[0], strict=True)]]
    assert flipped.data == [[not m for m in mask[0]]]
    assert "atol" not in manifest.read_text().split("expected_outputs:")[1]


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    model = save(scaled_model(), tmp_path / "m.onnx")
    manifest = tmp_path / "modelstack.yaml"
    manifest.write_text("# mine\n")
    result = run("init", model)
    assert result.returncode == 2
    assert f"{manifest} exists; pass --force to overwrite it" in result.stderr
    assert manifest.read_text() == "# mine\n"
    forced = run("init", model, "--force")
    assert forced.returncode == 0, forced.stderr
    assert_usable(manifest, model)


def test_missing_model_is_a_usage_error(tmp_path: Path) -> None:
    result = run("init", tmp_path / "nope.onnx")
    assert result.returncode == 2
    assert "no such model file:" in result.stderr
    assert "nope.onnx" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_not_an_onnx_model(tmp_path: Path) -> None:
    model = tmp_path / "junk.onnx"
    model.write_bytes(b"\x00\x01 definitely not protobuf")
    result = run("init", model)
    assert result.returncode == 1
    assert "junk.onnx" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "modelstack.yaml").exists()


@pytest.mark.parametrize(
    ("filename", "name"),
    [
        ("My_Model v2.onnx", "my-model-v2"),
        ("--Résumé--.onnx", "r-sum"),
        ("2024 model.onnx", "model-2024-model"),
        ("___.onnx", "model"),
        ("a" * 60 + ".onnx", "a" * 40),
        ("1" * 33 + "-x.onnx", "model-" + "1" * 33),
        ("x" * 39 + "-tail.onnx", "x" * 39),
    ],
)
def test_name_from_an_odd_file_name_is_a_dns_label(
    tmp_path: Path, filename: str, name: str
) -> None:
    model = save(scaled_model(), tmp_path / filename)
    result = run("init", model)
    assert result.returncode == 0, result.stderr
    manifest = tmp_path / "modelstack.yaml"
    loaded = load_manifest(manifest)
    assert loaded.name == name
    assert DNS_LABEL.match(loaded.name)
    assert loaded.model.path == filename
    assert run("lint", manifest).returncode == 0


def test_name_option(tmp_path: Path) -> None:
    model = save(scaled_model(), tmp_path / "m.onnx")
    assert run("init", model, "--name", "fraud-scorer").returncode == 0
    assert load_manifest(tmp_path / "modelstack.yaml").name == "fraud-scorer"


def test_output_above_the_model(tmp_path: Path) -> None:
    model = save(scaled_model(), tmp_path / "models" / "m.onnx")
    manifest = tmp_path / "service.yaml"
    result = run("init", model, "--output", manifest)
    assert result.returncode == 0, result.stderr
    assert load_manifest(manifest).model.path == "models/m.onnx"
    assert run("test", manifest).returncode == 0


def test_output_beside_the_bundle_is_refused(tmp_path: Path) -> None:
    model = save(scaled_model(), tmp_path / "models" / "m.onnx")
    result = run("init", model, "--output", tmp_path / "other" / "modelstack.yaml")
    assert result.returncode == 2
    assert "the manifest must be in the model's folder or above it" in result.stderr


def test_gpu_needs_the_cloud_run_provider(tmp_path: Path) -> None:
    from modelstack.cli import main

    model = tmp_path / "m.onnx"
    model.write_bytes(b"unused: refused before the model is read")
    assert main(["init", str(model), "--provider", "aws-lambda", "--gpu"]) == 2
    assert not (tmp_path / "modelstack.yaml").exists()


ROOT = Path(__file__).resolve().parents[2]
SCHEMA_NAME = "modelstack.v1.schema.json"


def schema_line(manifest: Path) -> str:
    first = manifest.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    return first.removeprefix("# yaml-language-server: $schema=")


def test_the_schema_url_is_the_release_tag_of_the_installed_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    from modelstack._distribution import DISTRIBUTION
    from modelstack.commands.schema import SOURCE_REPOSITORY, schema_url

    model = save(scaled_model(), tmp_path / "scaled.onnx")
    assert run("init", model).returncode == 0
    url = schema_line(tmp_path / "modelstack.yaml")
    assert url == schema_url()
    owner_repo = SOURCE_REPOSITORY.removeprefix("https://github.com/")
    tag = f"v{version(DISTRIBUTION)}"
    assert url == f"https://raw.githubusercontent.com/{owner_repo}/{tag}/schemas/{SCHEMA_NAME}"
    assert (ROOT / "schemas" / SCHEMA_NAME).is_file()  # the path the tag serves
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"repo: {SOURCE_REPOSITORY}\n    rev: {tag}\n" in readme  # the same published source
    assert f"$schema={url}" in readme


def test_schema_write_puts_an_identical_copy_in_a_folder_or_file(tmp_path: Path) -> None:
    shipped = (ROOT / "schemas" / SCHEMA_NAME).read_bytes()
    result = run("schema", "--write", tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / SCHEMA_NAME).read_bytes() == shipped
    assert run("schema", "--write", tmp_path / "s.json").returncode == 0
    assert (tmp_path / "s.json").read_bytes() == shipped


def test_schema_write_to_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = run("schema", "--write", tmp_path / "missing" / "s.json")
    assert result.returncode == 2
    assert "no such folder" in result.stderr and "Traceback" not in result.stderr


def test_init_with_a_local_schema_uses_the_nearest_copy(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "schemas").mkdir()
    assert run("schema", "--write", tmp_path / "schemas").returncode == 0
    model = save(scaled_model(), tmp_path / "models" / "iris" / "scaled.onnx")
    result = run("init", model, "--schema-ref", "local")
    assert result.returncode == 0, result.stderr
    manifest = model.parent / "modelstack.yaml"
    assert schema_line(manifest) == f"../../schemas/{SCHEMA_NAME}"
    assert not (model.parent / SCHEMA_NAME).exists()
    assert_usable(manifest, model)


def test_init_with_a_local_schema_writes_one_when_there_is_none(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the search stops at the repository root
    model = save(scaled_model(), tmp_path / "scaled.onnx")
    result = run("init", model, "--schema-ref", "local")
    assert result.returncode == 0, result.stderr
    assert schema_line(tmp_path / "modelstack.yaml") == SCHEMA_NAME
    assert (tmp_path / SCHEMA_NAME).read_bytes() == (ROOT / "schemas" / SCHEMA_NAME).read_bytes()
