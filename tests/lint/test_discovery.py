"""Linting a model or smoke-input file lints the manifests that reference it."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from modelstack.lint.discovery import HOOK_FILES, discover_manifests, manifests_referencing
from tests.lint.test_rule_details import external_data_model

ROOT = Path(__file__).resolve().parents[2]
WriteBundle = Callable[..., Path]


def run_lint(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelstack", "lint", *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def with_inputs(write_bundle: WriteBundle) -> Path:
    buffer = np.zeros((1, 4), dtype=np.float32)
    manifest = write_bundle(extra="smoke_tests:\n  - name: a\n    inputs_file: data/in.npz\n")
    (manifest.parent / "data").mkdir()
    np.savez(manifest.parent / "data" / "in.npz", x=buffer)
    return manifest


def test_the_model_maps_to_its_manifest(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    assert manifests_referencing(manifest.parent / "model.onnx") == [manifest]


def test_a_smoke_input_file_maps_to_its_manifest(write_bundle: WriteBundle) -> None:
    manifest = with_inputs(write_bundle)
    assert manifests_referencing(manifest.parent / "data" / "in.npz") == [manifest]


def test_external_data_maps_to_the_manifest_of_its_model(
    write_bundle: WriteBundle, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    model = external_data_model(scratch)
    weights = (scratch / "weights.bin").read_bytes()
    manifest = write_bundle(files={"model.onnx": model, "weights.bin": weights})
    assert manifests_referencing(manifest.parent / "weights.bin") == [manifest]


def test_a_file_nothing_references_maps_to_nothing(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    (manifest.parent / "notes.json").write_text("{}")
    (manifest.parent / "other.onnx").write_bytes(b"x")
    assert manifests_referencing(manifest.parent / "notes.json") == []
    assert discover_manifests([manifest.parent / "other.onnx"]) == []


def test_the_nearest_referencing_manifest_is_found_from_a_nested_folder(
    write_bundle: WriteBundle, identity_model: bytes
) -> None:
    outer = write_bundle(files={"models/model.onnx": identity_model})
    outer.write_text(outer.read_text().replace("path: model.onnx", "path: models/model.onnx"))
    inner = outer.parent / "models" / "modelstack.yaml"  # a manifest that references another file
    inner.write_text(outer.read_text().replace("path: models/model.onnx", "path: other.onnx"))
    assert manifests_referencing(outer.parent / "models" / "model.onnx") == [outer]


def test_a_relative_path_gives_relative_manifests(
    write_bundle: WriteBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_bundle()
    monkeypatch.chdir(manifest.parent.parent)
    assert discover_manifests(["bundle/model.onnx", "bundle/modelstack.yaml"]) == [
        Path("bundle/modelstack.yaml")
    ]  # listed once


def test_lint_of_a_re_exported_model_reports_the_stale_sha256(
    write_bundle: WriteBundle, identity_model: bytes
) -> None:
    manifest = write_bundle()
    (manifest.parent / "model.onnx").write_bytes(identity_model + b"\n")  # a new export
    result = run_lint("model.onnx", cwd=manifest.parent)
    assert result.returncode == 1, result.stderr
    assert "modelstack.yaml:8:11: MS102 error" in result.stdout


def test_lint_of_files_nothing_references_passes_quietly(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    (manifest.parent / "package.json").write_text("{}")
    result = run_lint("package.json", cwd=manifest.parent)
    assert (result.returncode, result.stderr) == (0, "")
    assert "0 manifests checked" in result.stdout


def test_a_yaml_file_is_still_linted_as_a_manifest(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text("- 1\n")
    result = run_lint("other.yaml", cwd=tmp_path)
    assert result.returncode == 1 and "MS001" in result.stdout


@pytest.mark.parametrize(
    ("name", "runs"),
    [
        ("modelstack.yaml", True), ("sub/modelstack.yml", True), ("model.onnx", True),
        ("m/model.onnx.data", True), ("weights.bin", True), ("model.onnx_data", True),
        ("inputs.npz", True), ("tests/inputs.json", True), ("notes.yaml", False),
        ("README.md", False), ("train.py", False), ("my-modelstack.yaml", False),
    ],
)  # fmt: skip
def test_the_hook_runs_on_models_inputs_and_manifests(name: str, runs: bool) -> None:
    assert bool(re.search(HOOK_FILES, name)) is runs
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hooks[0]["files"] == HOOK_FILES


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-docs"), "--check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_sha256_of_the_fixture_model_is_what_the_bundle_pins(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    digest = hashlib.sha256((manifest.parent / "model.onnx").read_bytes()).hexdigest()
    assert digest in manifest.read_text()
