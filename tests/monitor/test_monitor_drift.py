"""PSI against hand-computed values, and the rolling window's counts: bounded and mergeable."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from modelstack_runtime import dataplane, encode_json_request
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.drift import (
    PSI_FLOOR,
    DriftMonitor,
    DriftProfile,
    FeatureBins,
    OutputBins,
    band,
    bin_index,
    psi,
)
from modelstack_runtime.errors import ConfigError
from modelstack_runtime.model import Model


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5) = 0.17329 + 0.10137
    assert psi([0.5, 0.5], [1, 3]) == pytest.approx(0.274653, abs=1e-6)
    assert psi([0.1] * 10, [10] * 10) == 0.0
    # an empty bin is floored: (1e-4 - 0.5) ln(1e-4 / 0.5) + (1 - 0.5) ln(1 / 0.5)
    floor = (PSI_FLOOR - 0.5) * math.log(PSI_FLOOR / 0.5) + 0.5 * math.log(2)
    assert psi([0.5, 0.5], [0, 8]) == pytest.approx(floor)
    assert psi([0.5, 0.5], [0, 0]) == 0.0


def test_bands() -> None:
    assert [band(v, 0.1, 0.25) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == [
        "ok", "ok", "warn", "warn", "alarm", "alarm",
    ]  # fmt: skip


def test_bin_index_counts_edges_at_most_the_value() -> None:
    assert bin_index(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), [0.0, 1.0]).tolist() == [0, 1, 1, 2, 2]


def profile(*, requests: int = 100, slices: int = 4, min_rows: int = 1) -> DriftProfile:
    features = (
        FeatureBins("x0", "x", 0, (0.0,), (0.5, 0.5)),
        FeatureBins("x1", "x", 1, (0.0, 1.0), (0.25, 0.5, 0.25)),
    )
    outputs = (OutputBins("label", (0.5, 0.5, 0.0), classes=(0, 1)),)
    return DriftProfile(features, outputs, window_requests=requests, slices=slices,
                        min_rows=min_rows)  # fmt: skip


def test_window_psi_matches_the_hand_computation() -> None:
    monitor = DriftMonitor(profile())
    # x0: one row below 0 and three at or above it: [1, 3] against [0.5, 0.5]
    x = np.array([[-1.0, 0.5], [0.0, 0.5], [2.0, 0.5], [3.0, 0.5]])
    monitor.observe({"x": x}, {"label": np.array([0, 1, 1, 7])})
    features, outputs, rows = monitor.scores()
    assert rows == 4
    assert features["x0"] == pytest.approx(0.274653, abs=1e-6)
    # x1: all four in the middle bin: 2 (1e-4 - 0.25) ln(1e-4 / 0.25) + 0.5 ln(2)
    expected = 2 * (PSI_FLOOR - 0.25) * math.log(PSI_FLOOR / 0.25) + 0.5 * math.log(2)
    assert features["x1"] == pytest.approx(expected)
    # label: [1, 2, 1 other] against [0.5, 0.5, 0 (floored)]
    a = [0.25, 0.5, 0.25]
    e = [0.5, 0.5, PSI_FLOOR]
    assert outputs["label"] == pytest.approx(
        sum((p - q) * math.log(p / q) for p, q in zip(a, e, strict=True))
    )


def test_exposition_waits_for_min_rows() -> None:
    monitor = DriftMonitor(profile(min_rows=3))
    monitor.observe({"x": np.zeros((2, 2))}, {})
    text = "\n".join(monitor.collector('model="m",version="1"')) + "\n"
    assert "modelstack_drift_psi" not in text
    monitor.observe({"x": np.zeros((1, 2))}, {})
    text = "\n".join(monitor.collector('model="m",version="1"')) + "\n"
    names = {s.labels.get("feature") for f in text_string_to_metric_families(text)
             for s in f.samples if s.name == "modelstack_drift_psi"}  # fmt: skip
    assert names == {"x0", "x1"}


def test_the_window_forgets_old_sub_windows() -> None:
    monitor = DriftMonitor(profile(requests=4, slices=2))  # two requests per sub-window
    for _ in range(2):
        monitor.observe({"x": np.full((1, 2), -5.0)}, {})
    for _ in range(4):
        monitor.observe({"x": np.full((1, 2), 5.0)}, {})
    counts, rows = monitor.window()
    assert rows == 4  # only the last two sub-windows: the -5 rows are gone
    assert counts[:2].tolist() == [0, 4]


def test_a_time_window_rotates_on_the_clock() -> None:
    now = [0.0]
    base = profile()
    timed = DriftProfile(base.features, base.outputs, window_requests=None, window_seconds=10.0,
                         slices=2, min_rows=1)  # fmt: skip
    monitor = DriftMonitor(timed, clock=lambda: now[0])
    monitor.observe({"x": np.full((1, 2), -5.0)}, {})
    now[0] = 5.0
    monitor.observe({"x": np.full((1, 2), 5.0)}, {})
    now[0] = 10.0
    monitor.observe({"x": np.full((1, 2), 5.0)}, {})
    counts, rows = monitor.window()
    assert rows == 2 and counts[:2].tolist() == [0, 2]


def test_profiles_round_trip_and_bad_ones_name_the_key() -> None:
    p = profile()
    assert DriftProfile.from_dict(p.to_dict()) == p
    broken = p.to_dict()
    broken["features"][1]["edges"] = [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"features\[1\]\.edges"):
        DriftProfile.from_dict(broken)
    broken = p.to_dict()
    broken["features"][0]["expected"] = [1.0]
    with pytest.raises(ConfigError, match=r"features\[0\]\.expected"):
        DriftProfile.from_dict(broken)


rows = st.lists(st.tuples(st.floats(-10, 10), st.floats(-10, 10)), min_size=1, max_size=20).map(
    lambda r: np.array(r, dtype=np.float64)
)


@settings(max_examples=60, deadline=None)
@given(st.lists(rows, min_size=1, max_size=12))
def test_counts_merge_by_addition_and_stay_bounded(batches: list[np.ndarray]) -> None:
    big = DriftMonitor(profile(requests=10_000, slices=1))
    parts = [DriftMonitor(profile(requests=10_000, slices=1)) for _ in range(2)]
    for i, batch in enumerate(batches):
        big.observe({"x": batch}, {})
        parts[i % 2].observe({"x": batch}, {})
    merged = parts[0].window()[0] + parts[1].window()[0]
    assert big.window()[0].tolist() == merged.tolist()
    assert big.window()[1] == sum(len(b) for b in batches)
    assert big.nbytes == parts[0].nbytes  # the state does not grow with the traffic


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, min_size=1, max_size=40), st.integers(1, 5))
def test_the_window_holds_at_most_its_requests(batches: list[np.ndarray], slices: int) -> None:
    monitor = DriftMonitor(profile(requests=2 * slices, slices=slices))
    for batch in batches:
        monitor.observe({"x": batch}, {})
    _, held = monitor.window()
    newest = batches[-2 * slices :]
    assert held <= sum(len(b) for b in newest)


def _plane(tmp_path: Path, emf: str | None) -> DataPlane:
    from monitorkit import runtime_config

    config = runtime_config(tmp_path, warmup=False)
    drift = profile(requests=4, slices=2, min_rows=1)
    features = tuple(FeatureBins(f.name, "float_input", f.column, f.edges, f.expected)
                     for f in drift.features)  # fmt: skip
    watched = DriftProfile(features, (), window_requests=4, slices=2, min_rows=1)
    config = dataclasses.replace(config, monitoring=watched.to_dict())
    return DataPlane(Model.load(config), config, emf_namespace=emf)


@pytest.mark.parametrize("emf", [None, "ns"])
def test_each_closed_sub_window_writes_a_drift_line(
    tmp_path: Path, emf: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    monkeypatch.setattr(dataplane, "_access_sink", lines.append)
    plane = _plane(tmp_path, emf)
    body = encode_json_request({"float_input": np.full((2, 4), 3.0, np.float32)})
    for _ in range(3):  # the third request closes the first sub-window of two requests
        plane.infer("iris", body, None, "application/json")
    drift = [json.loads(line) for line in lines if '"event":"infer"' not in line]
    assert len(drift) == 1
    if emf is None:
        # the whole window: the closed sub-window (4 rows) and the new one (2)
        assert drift[0]["event"] == "drift" and drift[0]["rows"] == 6
        assert set(drift[0]["psi"]) == {"x0", "x1"}
        assert drift[0]["drift_psi_max"] == max(drift[0]["psi"].values()) > 0.25
    else:
        names = {m["Name"] for d in drift[0]["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        assert names == {"drift_psi_x0", "drift_psi_x1", "drift_psi_max"}
        assert all(isinstance(drift[0][n], float) for n in names)
