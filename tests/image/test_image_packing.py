"""Packing the model for a fast start: layout, equal outputs, the prepacking choice, the
build context holding the weights once."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import given
from hypothesis import strategies as st
from imagefixtures import ROOT
from packmodels import WIDTH, mlp, write_bundle

from modelstack.image import fast_start
from modelstack.image.context import render_context
from modelstack.image.dockerfile import DockerfileOptions, render_dockerfile
from modelstack.image.fast_start import PREPACK_TOLERANCE, prefer_without_prepacking
from modelstack.image.flavours import flavour_for
from modelstack.image.packing import ALIGNMENT, pack_model, packed_digest
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest
from modelstack.smoke.local import prepare_local

BASE = "modelstack/base-python:bookworm"


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    result: np.ndarray = session.run(["y"], {"x": x})[0]
    return result


def _external(tensor: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in tensor.external_data}


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external-data"])
def test_packed_model_is_a_small_graph_and_aligned_weights_with_equal_outputs(
    tmp_path: Path, external: bool
) -> None:
    manifest = write_bundle(tmp_path / "bundle", mlp(width=512), external=external, width=512)
    source = manifest.parent / "model.onnx"
    packed = pack_model(source, tmp_path / "out", "model")
    assert packed.weights is not None and packed.weights.name == "model.weights"
    assert packed.graph.stat().st_size < 4096  # the graph holds no weights
    graph = onnx.load(str(packed.graph), load_external_data=False)
    for tensor in graph.graph.initializer:
        info = _external(tensor)
        assert info["location"] == "model.weights"
        length = int(info["length"])
        if length >= 1024 * 1024:
            assert int(info["offset"]) % ALIGNMENT == 0
        else:
            assert int(info["offset"]) % 64 == 0
    assert packed.weights_bytes == packed.weights.stat().st_size
    assert packed.weights_bytes < 3 * (512 * 512 + 512) * 4 + 6 * ALIGNMENT
    x = np.random.default_rng(1).standard_normal((4, 512)).astype(np.float32)
    np.testing.assert_array_equal(_run(packed.graph, x), _run(source, x))  # bit-exact


def test_the_packed_digest_is_deterministic_and_follows_the_bytes(tmp_path: Path) -> None:
    manifest = write_bundle(tmp_path / "bundle", mlp())
    source = manifest.parent / "model.onnx"
    first = pack_model(source, tmp_path / "a", "model")
    second = pack_model(source, tmp_path / "b", "model")
    assert first.digest == second.digest
    assert first.graph.read_bytes() == second.graph.read_bytes()
    assert second.weights is not None
    data = bytearray(second.weights.read_bytes())
    data[-1] ^= 1
    second.weights.write_bytes(bytes(data))
    assert packed_digest(second.graph, second.weights) != first.digest


def test_a_model_without_large_tensors_is_served_as_one_graph(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples" / "iris", tmp_path / "iris",
                    ignore=shutil.ignore_patterns(".modelstack"))  # fmt: skip
    packed = pack_model(tmp_path / "iris" / "model.onnx", tmp_path / "out", "model")
    assert packed.weights is None and packed.external_tensors == 0
    assert packed.files == (packed.graph,)


def test_external_data_past_the_end_of_its_file_is_a_clear_error(tmp_path: Path) -> None:
    from modelstack.errors import ExternalDataError

    manifest = write_bundle(tmp_path / "bundle", mlp(), external=True)
    blob = manifest.parent / "weights" / "mlp.bin"
    blob.write_bytes(blob.read_bytes()[:1000])
    with pytest.raises(ExternalDataError, match=r"tensor 'w\d'.*runs past the end"):
        pack_model(manifest.parent / "model.onnx", tmp_path / "out", "model")


@given(
    prepacked=st.floats(min_value=1e-4, max_value=1e4),
    ratio=st.floats(min_value=0.01, max_value=10.0),
)
def test_prepacking_is_disabled_only_when_not_slower_than_the_tolerance(
    prepacked: float, ratio: float
) -> None:
    without = prepacked * ratio
    assert prefer_without_prepacking(prepacked, without) == (
        without <= PREPACK_TOLERANCE * prepacked
    )


def test_the_context_ships_the_packed_model_once_with_its_digest_and_choice(
    tmp_path: Path,
) -> None:
    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp(), external=True))
    bundle = prepare_local(manifest)
    context = render_context(manifest, "local", flavour_for(manifest.targets["local"]),
                             bundle, base_image=BASE)  # fmt: skip
    assert context.fast_start is not None
    packed = context.fast_start.packed
    model_files = sorted(name for name in context.files if name.startswith("model/"))
    assert model_files == ["model/model.onnx", "model/model.weights"]
    assert context.files["model/model.weights"] == packed.weights
    # The shipped weights file never enters the context: the weights are there once.
    weights = sum(Path(str(c)).stat().st_size for n, c in context.files.items()
                  if n.startswith("model/"))  # fmt: skip
    assert weights < (3 * (WIDTH * WIDTH + WIDTH) * 4) * 1.1
    assert not any("mlp.bin" in name for name in context.files)
    assert context.labels["dev.modelstack.model.packed.sha256"] == packed.digest
    assert context.labels["dev.modelstack.model.sha256"] == manifest.model.sha256
    config = json.loads(context.files["runtime.json"])  # type: ignore[arg-type]
    assert config["model_path"] == "model/model.onnx"
    assert config["disable_prepacking"] is context.fast_start.prepacking.disable
    choice = context.fast_start.prepacking
    assert choice.p50_ms_prepacked is not None and choice.p50_ms_without is not None
    assert choice.disable == prefer_without_prepacking(
        choice.p50_ms_prepacked, choice.p50_ms_without
    )


def test_an_unchanged_bundle_is_not_packed_or_measured_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp()))
    bundle = prepare_local(manifest)
    first = fast_start.prepare_fast_start(bundle, manifest.directory)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("packed again")

    monkeypatch.setattr(fast_start, "pack_model", fail)
    again = fast_start.prepare_fast_start(bundle, manifest.directory)
    assert again == first
    assert first.packed.graph.is_relative_to(manifest.directory / ".modelstack" / "packed")


def test_a_partial_cache_entry_is_packed_again(tmp_path: Path) -> None:
    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp()))
    bundle = prepare_local(manifest)
    first = fast_start.prepare_fast_start(bundle, manifest.directory)
    assert first.packed.weights is not None
    first.packed.weights.unlink()
    again = fast_start.prepare_fast_start(bundle, manifest.directory)
    assert again.packed.digest == first.packed.digest
    assert again.packed.weights is not None and again.packed.weights.is_file()


def test_gpu_images_get_the_same_layout_and_keep_the_default_prepacking(
    tmp_path: Path,
) -> None:
    shutil.copytree(ROOT / "examples" / "digits-gpu", tmp_path / "digits",
                    ignore=shutil.ignore_patterns(".modelstack"))  # fmt: skip
    manifest = load_manifest(tmp_path / "digits" / "modelstack.yaml")
    flavour = flavour_for(manifest.targets["gpu"])
    context = render_context(manifest, "gpu", flavour, prepare_local(manifest))
    assert context.fast_start is not None
    assert context.fast_start.prepacking.disable is False
    assert "accelerator" in context.fast_start.prepacking.reason
    dockerfile = context.files["Dockerfile"].decode()  # type: ignore[union-attr]
    assert "COPY model/ /opt/modelstack/model/" in dockerfile
    assert "onnxruntime-gpu" in context.files["requirements.txt"].decode()  # type: ignore[union-attr]
    config = json.loads(context.files["runtime.json"])  # type: ignore[arg-type]
    assert config["disable_prepacking"] is False


def test_optimising_at_build_leaves_only_the_optimised_model_in_the_final_stage() -> None:
    iris = load_manifest(ROOT / "examples" / "iris" / "modelstack.yaml")
    flavour = flavour_for(iris.targets["local"])
    files = ("model/model.onnx", "model/model.weights")
    text = render_dockerfile(
        flavour, DockerfileOptions(BASE, {}, optimize=True, packed_files=files)
    )
    assert "&& rm -f /opt/modelstack/model/model.onnx /opt/modelstack/model/model.weights" in text
    assert "COPY --from=builder /opt/modelstack/model/ /opt/modelstack/model/" in text


def test_prepacking_stays_on_when_the_smoke_tests_fail_without_it(tmp_path: Path) -> None:
    wrong = "    expected_outputs:\n      y: {data: [[" + ", ".join(["7.0"] * WIDTH) + "]]}\n"
    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp(), expected=wrong))
    choice = fast_start.prepare_fast_start(prepare_local(manifest), manifest.directory).prepacking
    assert choice.disable is False
    assert choice.reason == "outputs differ without prepacking"
    assert choice.p50_ms_without is not None  # it was measured, then refused


def test_the_packed_model_is_checked_on_every_evaluation_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(ROOT / "examples" / "digits-mlp", tmp_path / "digits",
                    ignore=shutil.ignore_patterns(".modelstack"))  # fmt: skip
    manifest = load_manifest(tmp_path / "digits" / "modelstack.yaml")
    bundle = prepare_local(manifest)
    checks = fast_start.evaluation_feeds(manifest, bundle)
    assert sum(len(feed["pixels"]) for feed in checks) == 450  # eval.npz, every row
    compared: list[int] = []
    same = fast_start._same

    def spy(got: list[dict[str, np.ndarray]], want: list[dict[str, np.ndarray]]) -> bool:
        compared.append(sum(len(next(iter(g.values()))) for g in got))
        return same(got, want)

    monkeypatch.setattr(fast_start, "_same", spy)
    render_context(manifest, "local", flavour_for(manifest.targets["local"]), bundle,
                   base_image=BASE)  # fmt: skip
    assert compared and compared[0] >= 450 + len(bundle.cases)


def _optimising_bundle(tmp_path: Path) -> Manifest:
    path = write_bundle(tmp_path / "bundle", mlp())
    path.write_text(path.read_text().replace("runtime: {", "runtime: {optimize_at_build: true, "))
    return load_manifest(path)


def test_optimisation_at_build_follows_its_measurement(tmp_path: Path) -> None:
    manifest = _optimising_bundle(tmp_path)
    assert manifest.runtime.optimize_at_build
    context = render_context(manifest, "local", flavour_for(manifest.targets["local"]),
                             prepare_local(manifest), base_image=BASE)  # fmt: skip
    assert context.fast_start is not None and context.fast_start.optimize is not None
    choice = context.fast_start.optimize
    assert choice.create_s_packed is not None and choice.create_s_optimized is not None
    dockerfile = context.files["Dockerfile"].decode()  # type: ignore[union-attr]
    config = json.loads(context.files["runtime.json"])  # type: ignore[arg-type]
    assert ("optimize_model" in dockerfile) is choice.use
    assert (config["optimized_model_path"] is not None) is choice.use
    if choice.use:
        assert choice.create_s_optimized < choice.create_s_packed


@pytest.mark.parametrize(
    ("p50", "use", "reason"),
    [((1.0, 1.0), True, "starts faster"), ((1.0, 1.2), False, "infers slower")],
)
def test_an_optimised_model_that_infers_slower_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, p50: tuple[float, float], use: bool,
    reason: str,
) -> None:  # fmt: skip
    from modelstack.image import optimize_choice

    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp()))
    bundle = prepare_local(manifest)
    packed = pack_model(Path(bundle.config.model_path), tmp_path / "out", "model")
    config = dataclasses.replace(bundle.config, model_path=str(packed.graph))
    # Session creation is timed for real; pin it so only the inference figure decides.
    creates = iter([0.2, 0.1])
    monkeypatch.setattr(optimize_choice, "_create_seconds", lambda _config: next(creates))
    feeds = [case.inputs for case in bundle.cases]
    choice = optimize_choice.choose_optimization(
        config, feeds, [], lambda _a, _b, _f: p50, lambda _outputs: True
    )
    assert choice.use is use and reason in choice.reason


def test_an_optimised_model_with_other_outputs_is_not_used(tmp_path: Path) -> None:
    from modelstack.image import optimize_choice

    manifest = load_manifest(write_bundle(tmp_path / "bundle", mlp()))
    bundle = prepare_local(manifest)
    packed = pack_model(Path(bundle.config.model_path), tmp_path / "out", "model")
    config = dataclasses.replace(bundle.config, model_path=str(packed.graph))
    feeds = [case.inputs for case in bundle.cases]
    choice = optimize_choice.choose_optimization(
        config, feeds, [], lambda _a, _b, _f: (1.0, 1.0), lambda _outputs: False
    )
    assert choice.use is False and choice.reason == "the optimised model's outputs differ"
