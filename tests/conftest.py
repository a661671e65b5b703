"""Shared fixtures: a real Docker engine, a tiny ONNX model built with onnx.helper, and
manifest bundles in tmp_path."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from example_copies import EXAMPLES


def examples_fingerprint() -> dict[str, str]:
    """Every file under the checkout's examples/ (deploy state included) with its sha256.

    Logs are left out: a router that `scripts/quickstart` left running may append to its own.
    """
    return {
        str(path.relative_to(EXAMPLES)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(EXAMPLES.rglob("*"))
        if path.is_file() and path.suffix != ".log" and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="session", autouse=True)
def examples_untouched() -> Iterator[None]:
    """Tests never write inside the checkout's examples/ (copy them with copy_example)."""
    before = examples_fingerprint()
    yield
    after = examples_fingerprint()
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    if changed:
        pytest.fail(
            "tests changed files inside the checkout's examples/: "
            + ", ".join(changed)
            + "; copy an example with example_copies.copy_example instead",
            pytrace=False,
        )


def _engine_problem() -> str | None:
    """Why no Docker engine answers, or None when one does."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    return None if result.returncode == 0 else result.stderr.strip()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A real Docker engine (and the registries scripts/docker-services starts). Tests that
    use it FAIL when none answers; they never skip. Deselect them with -m "not docker"."""
    problem = _engine_problem()
    if problem:
        pytest.fail(
            f"no Docker engine answers ({problem}). Start the engine and registries with "
            "scripts/docker-services, or deselect these tests with -m 'not docker'.",
            pytrace=False,
        )


def identity_model_bytes() -> bytes:
    """A tiny ONNX model, byte-for-byte reproducible: y = Identity(x), FP32 [N, 4] -> [N, 4]."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=8,
        producer_name="modelstack-tests",
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture
def identity_model() -> bytes:
    return identity_model_bytes()


def _manifest_text(sha256: str, extra: str = "") -> str:
    """A valid manifest for the identity model with one local target, plus `extra` lines."""
    return (
        "apiVersion: modelstack.dev/v1\n"
        "kind: ModelService\n"
        "metadata:\n"
        "  name: tiny\n"
        "  version: 1.0.0\n"
        "model:\n"
        "  path: model.onnx\n"
        f"  sha256: {sha256}\n"
        "targets:\n"
        "  dev:\n"
        "    provider: local\n"
    ) + extra


@pytest.fixture
def write_bundle(tmp_path: Path, identity_model: bytes) -> Callable[..., Path]:
    """Write a bundle (manifest plus files) under tmp_path/bundle; returns the manifest path.

    With `manifest=None`, the manifest is `_manifest_text` for the identity model plus `extra`.
    `files` maps relative names to bytes; by default the bundle holds the identity model.
    """

    def write(
        manifest: str | None = None,
        *,
        extra: str = "",
        files: dict[str, bytes] | None = None,
        name: str = "modelstack.yaml",
    ) -> Path:
        bundle = tmp_path / "bundle"
        bundle.mkdir(exist_ok=True)
        for relative, data in ({"model.onnx": identity_model} if files is None else files).items():
            target = bundle / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if manifest is None:
            manifest = _manifest_text(hashlib.sha256(identity_model).hexdigest(), extra)
        path = bundle / name
        path.write_text(manifest, encoding="utf-8")
        return path

    return write


def reshape_model_bytes() -> bytes:
    """y = Reshape(x, [2, 2]): accepts x of shape [1, 4] and fails at run time on [2, 4]."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 2])
    node = helper.make_node("Reshape", ["x", "shape"], ["y"])
    graph = helper.make_graph([node], "reshape", [x], [y], [shape])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    return bytes(model.SerializeToString())


@pytest.fixture
def warmup_failing_bundle(write_bundle: Callable[..., Path]) -> Path:
    """A bundle whose first smoke test (the warm-up input) makes the model fail at run time."""
    model = reshape_model_bytes()
    text = _manifest_text(hashlib.sha256(model).hexdigest()).replace("tiny", "reshape")
    text += "smoke_tests:\n  - name: two-rows\n    inputs:\n"
    text += "      x: {data: [[1, 2, 3, 4], [5, 6, 7, 8]]}\n"
    return write_bundle(text, files={"model.onnx": model})
