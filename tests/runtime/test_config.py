from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from example_copies import copy_example

from modelstack_runtime import CONFIG_ENV, ConfigError, RuntimeConfig, load_config

BASE = {"model_name": "iris", "model_version": "1", "model_path": "model.onnx"}


def test_defaults() -> None:
    config = RuntimeConfig.from_dict(BASE)
    assert config.execution_providers == ("CPUExecutionProvider",)
    assert config.graph_optimization == "all"
    assert config.warmup is True
    assert config.warmup_request is None
    assert config.max_request_bytes == 10 * 1024 * 1024
    assert config.optimized_model_path is None
    assert (config.intra_op_threads, config.inter_op_threads) == (0, 0)


def test_to_dict_round_trips() -> None:
    data = {
        **BASE,
        "execution_providers": ["CUDAExecutionProvider", "CPUExecutionProvider"],
        "intra_op_threads": 2,
        "graph_optimization": "basic",
        "optimized_model_path": "opt.onnx",
        "warmup_request": {"inputs": []},
        "max_request_bytes": 1000,
    }
    config = RuntimeConfig.from_dict(data)
    assert RuntimeConfig.from_dict(config.to_dict()) == config
    assert json.loads(json.dumps(config.to_dict()))["execution_providers"] == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modle_name": "x"}, r"unknown key\(s\) \['modle_name'\]"),
        ({"intra_op_threads": "4"}, "intra_op_threads: expected integer, got string"),
        ({"warmup": 1}, "warmup: expected boolean, got number"),
        ({"max_request_bytes": True}, "max_request_bytes: expected integer, got boolean"),
        ({"execution_providers": "CPUExecutionProvider"}, "expected list of strings, got string"),
        ({"execution_providers": [1]}, "non-empty list of strings"),
        ({"graph_optimization": "max"}, "graph_optimization: expected one of"),
        ({"model_path": None}, "model_path: expected string, got null"),
        ({"max_request_bytes": 0}, "max_request_bytes: must be > 0"),
    ],
)
def test_rejects_bad_values_naming_the_key(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RuntimeConfig.from_dict({**BASE, **change})


def test_constructor_stores_providers_as_a_tuple() -> None:
    config = RuntimeConfig("m", "1", "m.onnx", execution_providers=["CPUExecutionProvider"])
    assert config.execution_providers == ("CPUExecutionProvider",)
    assert config.to_dict()["execution_providers"] == ["CPUExecutionProvider"]


def test_missing_required_key() -> None:
    with pytest.raises(ConfigError, match=r"missing required key\(s\) \['model_path'\]"):
        RuntimeConfig.from_dict({"model_name": "a", "model_version": "1"})


def test_load_resolves_relative_paths_against_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "runtime.json"
    path.write_text(json.dumps({**BASE, "optimized_model_path": "opt.onnx"}))
    monkeypatch.setenv(CONFIG_ENV, str(path))
    config = load_config()
    assert config.model_path == str(tmp_path / "model.onnx")
    assert config.optimized_model_path == str(tmp_path / "opt.onnx")
    absolute = {**BASE, "model_path": "/models/m.onnx"}
    path.write_text(json.dumps(absolute))
    assert load_config(path).model_path == "/models/m.onnx"


def test_load_errors_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read runtime config"):
        load_config(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(bad)
    bad.write_text("[]")
    with pytest.raises(ConfigError, match="expected a JSON object, got list"):
        load_config(bad)


def test_images_admit_as_many_infer_requests_as_the_platform_sends(tmp_path: Path) -> None:
    """Cloud Run's `concurrency` becomes the runtime's max_concurrency; other targets get 4."""

    from modelstack.image.context import render_context
    from modelstack.image.flavours import flavour_for
    from modelstack.manifest import load_manifest
    from modelstack.smoke.local import prepare_local

    copy_example("digits-gpu", tmp_path / "digits")
    manifest = load_manifest(tmp_path / "digits" / "modelstack.yaml")
    bundle = prepare_local(manifest)
    for target, expected in (("gpu", 8), ("local", 4)):
        flavour = flavour_for(manifest.targets[target])
        context = render_context(manifest, target, flavour, bundle, base_image="base")
        config = json.loads(context.files["runtime.json"])  # type: ignore[arg-type]
        assert config["max_concurrency"] == expected
