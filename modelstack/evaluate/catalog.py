"""The metric names the manifest may use: which task each fits, what it needs, which way is
better. Plain data without numpy, so that lint can check a manifest's metrics and gates."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MEASUREMENTS", "METRICS", "MetricInfo", "default_metrics", "higher_is_better"]

ALL_TASKS = ("classification", "regression", "any")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    tasks: tuple[str, ...]
    needs: tuple[str, ...]
    """Settings of the evaluation section it needs: labels, scores, reference."""
    higher_is_better: bool


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", ("classification",), ("labels",), True),
        MetricInfo("top_k_accuracy", ("classification",), ("labels", "scores"), True),
        MetricInfo("macro_f1", ("classification",), ("labels",), True),
        MetricInfo("log_loss", ("classification",), ("labels", "scores"), False),
        MetricInfo("mae", ("regression",), ("labels",), False),
        MetricInfo("rmse", ("regression",), ("labels",), False),
        MetricInfo("r2", ("regression",), ("labels",), True),
        MetricInfo("max_abs_diff", ALL_TASKS, ("reference",), False),
        MetricInfo("argmax_agreement", ALL_TASKS, ("reference",), True),
    )
}

MEASUREMENTS = ("p50_ms", "p99_ms", "size_mb")
"""Gate names that are measured rather than computed from outputs (lower is better)."""


def higher_is_better(name: str) -> bool:
    metric = METRICS.get(name)
    return metric.higher_is_better if metric else False


def default_metrics(task: str, labels: bool, scores: bool, reference: bool) -> tuple[str, ...]:
    """The metrics computed when the manifest lists none."""
    names: list[str] = []
    if task == "classification" and labels:
        names += ["accuracy", "macro_f1"] + (["top_k_accuracy", "log_loss"] if scores else [])
    if task == "regression" and labels:
        names += ["mae", "rmse", "r2"]
    if reference:
        names += ["max_abs_diff"] + (["argmax_agreement"] if task == "classification" else [])
    return tuple(names)
