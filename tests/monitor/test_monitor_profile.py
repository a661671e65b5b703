"""The reference profile built from a manifest, and drift measured by a runtime that has it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from example_copies import copy_example
from monitorkit import Client
from prometheus_client.parser import text_string_to_metric_families
from sklearn.datasets import load_iris

from modelstack.errors import DatasetError, UsageError
from modelstack.manifest import load_manifest
from modelstack.monitor.profile import reference_profile, with_reference_profile
from modelstack.smoke.local import prepare_local
from modelstack_runtime import RuntimeServer
from modelstack_runtime.drift import DriftProfile

IRIS = load_iris().data.astype(np.float32)


def iris_bundle(tmp_path: Path, monitoring: str) -> Path:
    folder = copy_example("iris", tmp_path / "iris")
    np.savez(folder / "reference.npz", float_input=IRIS)
    manifest = folder / "modelstack.yaml"
    manifest.write_text(manifest.read_text() + monitoring)
    return manifest


MONITORING = """
monitoring:
  reference: {path: reference.npz}
  window: {requests: 400, slices: 4, min_rows: 100}
"""


def test_the_profile_bins_each_feature_and_output(tmp_path: Path) -> None:
    manifest = load_manifest(iris_bundle(tmp_path, MONITORING))
    bundle = prepare_local(manifest)
    config = with_reference_profile(manifest, bundle, bundle.config)
    assert config.monitoring is not None
    profile = DriftProfile.from_dict(config.monitoring)
    assert [f.name for f in profile.features] == [f"float_input[{i}]" for i in range(4)]
    for feature in profile.features:
        assert 1 <= len(feature.edges) <= 9
        assert sum(feature.expected) == pytest.approx(1.0)
    outputs = {o.name: o for o in profile.outputs}
    assert outputs["label"].classes == (0, 1, 2)
    assert outputs["probabilities"].classes == (0, 1, 2)  # the argmax of a score output
    assert profile.window_requests == 400 and profile.slices == 4


def test_without_monitoring_the_config_is_unchanged(tmp_path: Path) -> None:
    manifest = load_manifest(copy_example("iris", tmp_path / "iris") / "modelstack.yaml")
    bundle = prepare_local(manifest)
    assert with_reference_profile(manifest, bundle, bundle.config) is bundle.config


def test_evaluation_data_is_the_default_reference_and_features_are_bounded(
    tmp_path: Path,
) -> None:
    folder = copy_example("digits-mlp", tmp_path / "digits")
    path = folder / "modelstack.yaml"
    path.write_text(path.read_text() + "\nmonitoring:\n  watch: {max_features: 10}\n")
    manifest = load_manifest(path)
    bundle = prepare_local(manifest)
    profile = reference_profile(manifest, bundle.signature, bundle.config)
    assert profile is not None
    assert len(profile["features"]) == 10  # 64 pixels, bounded by watch.max_features


@pytest.mark.parametrize(
    ("monitoring", "error", "message"),
    [
        ("monitoring:\n  reference: {path: ../outside.npz}\n", DatasetError, "outside"),
        ("monitoring:\n  reference: {path: reference.npz, max_rows: 10}\n", DatasetError,
         "monitoring.reference.max_rows"),
        ("monitoring:\n  window: {requests: 100}\n", UsageError, "monitoring has no reference"),
        ("monitoring:\n  reference: {path: reference.npz}\n  watch: {inputs: [nope]}\n",
         UsageError, "monitoring.watch.inputs names ['nope']"),
    ],
)  # fmt: skip
def test_bad_references_say_what_to_fix(
    tmp_path: Path, monitoring: str, error: type[Exception], message: str
) -> None:
    (tmp_path / "outside.npz").write_bytes(b"")
    manifest = load_manifest(iris_bundle(tmp_path, "\n" + monitoring))
    bundle = prepare_local(manifest)
    with pytest.raises(error, match=message.replace("[", r"\[").replace("]", r"\]")) as info:
        reference_profile(manifest, bundle.signature, bundle.config)
    if error is DatasetError:
        assert "modelstack.yaml:" in str(info.value)  # the manifest position


@pytest.fixture
def monitored(tmp_path: Path) -> Iterator[Client]:
    manifest = load_manifest(iris_bundle(tmp_path, MONITORING))
    bundle = prepare_local(manifest)
    config = with_reference_profile(manifest, bundle, bundle.config)
    server = RuntimeServer(dataclasses.replace(config, warmup=False))
    server.start()
    server.load()
    client = Client(server.port)
    yield client
    client.close()
    server.stop(grace_s=5.0)


def psi_by_feature(text: str) -> dict[str, float]:
    return {
        s.labels["feature"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "modelstack_drift_psi"
    }


def send(client: Client, rows: np.ndarray) -> None:
    for start in range(0, len(rows), 5):
        status, _, body = client.infer(rows[start : start + 5])
        assert status == 200, body


def test_reference_traffic_is_stable_and_a_shift_names_its_feature(monitored: Client) -> None:
    rng = np.random.default_rng(7)
    send(monitored, IRIS[rng.integers(0, len(IRIS), 500)])
    stable = psi_by_feature(monitored.metrics())
    assert len(stable) == 4 and max(stable.values()) < 0.1, stable
    shifted = IRIS[rng.integers(0, len(IRIS), 2000)].copy()
    shifted[:, 2] += 3.0  # petal length
    send(monitored, shifted)
    drift = psi_by_feature(monitored.metrics())
    assert drift["float_input[2]"] >= 0.25, drift
    assert all(v < 0.1 for k, v in drift.items() if k != "float_input[2]"), drift
