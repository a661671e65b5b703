"""The manifest's `evaluation:` section as typed objects: data sets, metrics and gates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelstack.manifest.source import PathKey

__all__ = [
    "BaselineModel",
    "DatasetSpec",
    "EvaluationSpec",
    "GateSpec",
    "evaluation_from_dict",
]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    path: str
    sha256: str
    index: int = 0

    @property
    def where(self) -> PathKey:
        """The data set's path in the manifest document."""
        return ("evaluation", "datasets", self.index)


@dataclass(frozen=True)
class GateSpec:
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    min_improvement_pct: float | None = None


@dataclass(frozen=True)
class BaselineModel:
    path: str
    sha256: str


@dataclass(frozen=True)
class EvaluationSpec:
    task: str
    datasets: tuple[DatasetSpec, ...]
    labels: str | None = None
    scores: str | None = None
    reference: str | None = None
    top_k: int = 5
    metrics: tuple[str, ...] | None = None
    """None: the task's default metrics (see `modelstack.evaluate.metrics.default_metrics`)."""
    gates: dict[str, GateSpec] = field(default_factory=dict)
    baseline: BaselineModel | None = None
    batch_size: int = 256
    latency_runs: int = 100
    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def evaluation_from_dict(d: dict[str, Any]) -> EvaluationSpec:
    """The typed section from its (schema-valid) manifest entry; defaults are the dataclass's."""
    baseline = d.get("baseline")
    ints: dict[str, Any] = {
        k: int(d[k]) for k in _INTS if k in d
    }  # YAML may spell an integer as 256.0
    names: dict[str, Any] = {k: d[k] for k in ("labels", "scores", "reference") if k in d}
    return EvaluationSpec(
        task=d["task"],
        datasets=tuple(
            DatasetSpec(name=s["name"], path=s["path"], sha256=s["sha256"], index=i)
            for i, s in enumerate(d["datasets"])
        ),
        metrics=tuple(d["metrics"]) if "metrics" in d else None,
        gates={
            name: GateSpec(**{k: _number(v) for k, v in gate.items()})
            for name, gate in d.get("gates", {}).items()
        },
        baseline=BaselineModel(baseline["path"], baseline["sha256"]) if baseline else None,
        **names,
        **ints,
    )


_INTS = ("top_k", "batch_size", "latency_runs", "max_rows", "max_bytes")
