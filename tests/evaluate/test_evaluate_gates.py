"""Gates: absolute bounds, and bounds against a baseline in the right direction per metric."""

from __future__ import annotations

import pytest

from modelstack.evaluate.catalog import METRICS
from modelstack.evaluate.gates import check_gates
from modelstack.evaluate.metrics import FUNCTIONS
from modelstack.manifest.evaluation import GateSpec
from modelstack.resources import load_schema


def verdicts(gates: dict[str, GateSpec], values: dict[str, float],
             baseline: dict[str, float] | None = None) -> list[tuple[str, str, str]]:  # fmt: skip
    return [(g.metric, g.bound, g.verdict) for g in check_gates(gates, values, baseline)]


def test_absolute_bounds() -> None:
    gates = {"accuracy": GateSpec(min=0.9), "p50_ms": GateSpec(max=5)}
    assert verdicts(gates, {"accuracy": 0.9, "p50_ms": 5.0}) == [
        ("accuracy", "min", "pass"), ("p50_ms", "max", "pass")
    ]  # fmt: skip
    assert verdicts(gates, {"accuracy": 0.899, "p50_ms": 5.01}) == [
        ("accuracy", "min", "FAIL"), ("p50_ms", "max", "FAIL")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("metric", "value", "base", "verdict"),
    [
        ("accuracy", 0.975, 0.98, "pass"),  # 0.005 lower: allowed
        ("accuracy", 0.974, 0.98, "FAIL"),
        ("log_loss", 0.105, 0.10, "pass"),  # errors get worse by going up
        ("log_loss", 0.106, 0.10, "FAIL"),
        ("log_loss", 0.01, 0.10, "pass"),
        ("size_mb", 4.006, 4.0, "FAIL"),
    ],
)
def test_max_drop_follows_the_metric_direction(
    metric: str, value: float, base: float, verdict: str
) -> None:
    gates = {metric: GateSpec(max_drop=0.005)}
    assert verdicts(gates, {metric: value}, {metric: base}) == [(metric, "max_drop", verdict)]


def test_min_improvement_is_measured_against_the_baseline() -> None:
    gates = {"p50_ms": GateSpec(min_improvement_pct=20)}
    assert verdicts(gates, {"p50_ms": 0.8}, {"p50_ms": 1.0})[0][2] == "pass"  # 20% faster
    assert verdicts(gates, {"p50_ms": 0.81}, {"p50_ms": 1.0})[0][2] == "FAIL"
    assert verdicts(gates, {"p50_ms": 1.2}, {"p50_ms": 1.0})[0][2] == "FAIL"  # slower


def test_a_gate_on_a_value_that_was_not_measured_fails() -> None:
    results = check_gates({"r2": GateSpec(min=0.5)}, {"accuracy": 1.0}, None)
    assert [(r.verdict, r.detail) for r in results] == [("FAIL", "not measured")]


def test_relative_bounds_without_a_baseline_are_skipped() -> None:
    (result,) = check_gates({"accuracy": GateSpec(max_drop=0.01)}, {"accuracy": 0.5}, None)
    assert result.skipped and result.passed and result.verdict == "skip"


def test_the_catalog_the_functions_and_the_schema_name_the_same_metrics() -> None:
    evaluation = load_schema()["properties"]["evaluation"]["properties"]
    assert set(METRICS) == set(FUNCTIONS) == set(evaluation["metrics"]["items"]["enum"])
