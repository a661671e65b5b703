from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
from runtime_models import expected_linear

from modelstack_runtime import (
    BadRequest,
    ConfigError,
    Model,
    RuntimeConfig,
    TensorSpec,
    optimize_model,
)


def test_signature_uses_v2_datatypes_and_dynamic_dims(linear_config: RuntimeConfig) -> None:
    model = Model.load(linear_config)
    assert model.signature.inputs == (TensorSpec("float_input", "FP32", (-1, 4)),)
    assert model.signature.outputs == (
        TensorSpec("probabilities", "FP32", (-1, 3)),
        TensorSpec("label", "INT64", (-1,)),
    )
    metadata = model.metadata()
    assert metadata["name"] == "iris" and metadata["versions"] == ["3"]
    assert metadata["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]


def test_infer_all_and_selected_outputs(linear_config: RuntimeConfig) -> None:
    model = Model.load(linear_config)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    y, label = expected_linear(x)
    outputs = model.infer({"float_input": x})
    assert list(outputs) == ["probabilities", "label"]
    np.testing.assert_allclose(outputs["probabilities"], y, rtol=1e-6)
    np.testing.assert_array_equal(outputs["label"], label)
    assert list(model.infer({"float_input": x}, ["label"])) == ["label"]


def test_string_inputs_accept_bytes(text_config: RuntimeConfig) -> None:
    model = Model.load(text_config)
    text = np.array([b"caf\xc3\xa9", b""], dtype=object)
    outputs = model.infer({"text": text, "count": np.array([1, 2], np.int32)})
    assert outputs["text_out"].tolist() == ["café", ""]
    assert outputs["doubled"].tolist() == [2, 4]
    with pytest.raises(BadRequest, match="not UTF-8"):
        model.infer({"text": np.array([b"\xff"], dtype=object), "count": np.zeros(2, np.int32)})


def test_unavailable_provider_falls_back_to_cpu_with_one_log_line(
    linear_config: RuntimeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    import onnxruntime as ort

    # CUDA here on a machine without a GPU; on a GPU machine, a provider it lacks instead.
    missing = [p for p in ort.get_all_providers() if p not in ort.get_available_providers()]
    unavailable = "CUDAExecutionProvider" if "CUDAExecutionProvider" in missing else missing[0]
    config = dataclasses.replace(
        linear_config, execution_providers=(unavailable, "CPUExecutionProvider")
    )
    with caplog.at_level(logging.WARNING, logger="modelstack_runtime"):
        model = Model.load(config)
    assert model.session.get_providers() == ["CPUExecutionProvider"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and unavailable in lines[0] and "not available" in lines[0]


def test_optimized_model_is_written_and_preferred(
    linear_config: RuntimeConfig, tmp_path: Path
) -> None:
    out = optimize_model(linear_config, tmp_path / "optimized.onnx")
    assert out.stat().st_size > 0
    config = dataclasses.replace(linear_config, optimized_model_path=str(out))
    model = Model.load(config)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(
        model.infer({"float_input": x})["probabilities"], expected_linear(x)[0]
    )
    missing = dataclasses.replace(linear_config, optimized_model_path=str(tmp_path / "nope.onnx"))
    assert Model.load(missing).signature == model.signature  # falls back to model_path


def test_missing_model_file_is_a_config_error(linear_config: RuntimeConfig, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Model.load(dataclasses.replace(linear_config, model_path=str(tmp_path / "x.onnx")))


def test_warm_up_runs_the_configured_request(linear_config: RuntimeConfig) -> None:
    request = {
        "inputs": [
            {"name": "float_input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}
        ]
    }
    model = Model.load(dataclasses.replace(linear_config, warmup_request=request))
    calls: list[dict[str, np.ndarray]] = []
    original = model.infer
    model.infer = lambda inputs, names=None: calls.append(dict(inputs)) or original(inputs, names)  # type: ignore[method-assign]
    model.warm_up()
    assert [c["float_input"].tolist() for c in calls] == [[[1.0, 2.0, 3.0, 4.0]]]
    bad = dict(request, inputs=[dict(request["inputs"][0], shape=[1, 3], data=[1, 2, 3])])
    with pytest.raises(BadRequest, match="expected shape"):
        Model.load(dataclasses.replace(linear_config, warmup_request=bad)).warm_up()


def test_warm_up_without_request_uses_zeros(linear_config: RuntimeConfig) -> None:
    model = Model.load(linear_config)
    synthetic = model.synthetic_inputs()
    assert synthetic["float_input"].shape == (1, 4)
    assert synthetic["float_input"].dtype == np.float32
    model.warm_up()  # does not raise


def test_prepacking_stays_on_unless_the_config_turns_it_off(linear_config: RuntimeConfig) -> None:
    from modelstack_runtime.model import session_options

    with pytest.raises(RuntimeError, match="does not have configuration"):
        session_options(linear_config).get_session_config_entry("session.disable_prepacking")
    off = dataclasses.replace(linear_config, disable_prepacking=True)
    assert session_options(off).get_session_config_entry("session.disable_prepacking") == "1"
    x = np.random.default_rng(2).normal(size=(3, 4)).astype(np.float32)
    y, _label = expected_linear(x)
    np.testing.assert_allclose(Model.load(off).infer({"float_input": x})["probabilities"], y,
                               rtol=1e-6)  # fmt: skip


def test_disable_prepacking_must_be_a_boolean_in_the_config(
    linear_config: RuntimeConfig,
) -> None:
    data = linear_config.to_dict()
    assert data["disable_prepacking"] is False
    assert RuntimeConfig.from_dict({**data, "disable_prepacking": True}).disable_prepacking
    with pytest.raises(ConfigError, match="disable_prepacking: expected boolean, got number"):
        RuntimeConfig.from_dict({**data, "disable_prepacking": 1})


def test_loading_logs_the_session_create_and_warm_up_split(
    linear_config: RuntimeConfig, caplog: pytest.LogCaptureFixture
) -> None:
    model = Model.load(linear_config)
    assert model.load_seconds > 0 and model.warmup_seconds is None
    with caplog.at_level(logging.INFO, logger="modelstack_runtime"):
        model.warm_up()
    assert model.warmup_seconds is not None and model.warmup_seconds > 0
    lines = [r.getMessage() for r in caplog.records if "loaded" in r.getMessage()]
    assert len(lines) == 1
    assert f"session create {model.load_seconds:.3f} s" in lines[0]
    assert f"warm-up {model.warmup_seconds:.3f} s" in lines[0]
    assert "prepacking on" in lines[0]


def test_optimize_model_keeps_the_weights_in_one_external_file(
    linear_config: RuntimeConfig, tmp_path: Path
) -> None:
    import onnx

    out = optimize_model(linear_config, tmp_path / "model.optimized.onnx")
    graph = onnx.load(str(out), load_external_data=False)
    locations = {
        e.value for t in graph.graph.initializer for e in t.external_data if e.key == "location"
    }
    assert locations <= {"model.optimized.weights"}
    x = np.random.default_rng(3).normal(size=(2, 4)).astype(np.float32)
    y, _label = expected_linear(x)
    optimized = dataclasses.replace(linear_config, optimized_model_path=str(out))
    np.testing.assert_allclose(Model.load(optimized).infer({"float_input": x})["probabilities"],
                               y, rtol=1e-6)  # fmt: skip
