"""`modelstack evaluate` of a routed manifest: the cascade on the evaluation data sets.

The entry's own model and every tier its `routing.escalate` rules name are loaded with
onnxruntime in this process (each through the runtime's data plane with its own manifest's
settings), run once over the entry's data sets, and combined row by row by the runtime's own
escalation decision. Reported: the task's metrics, the escalation rate, what answered each row
and the expected cost per 1,000 requests; the entry's evaluation gates are applied to the
cascade, with the last tier alone (every request escalated) as the baseline of relative gates.
`--sweep` repeats the combination for each threshold of the first escalation rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelstack.errors import EvaluationError
from modelstack.evaluate.datasets import Dataset, load_datasets
from modelstack.evaluate.gates import GateResult, check_gates
from modelstack.evaluate.runner import in_process_client, require_evaluation
from modelstack.evaluate.scoring import run_outputs, score
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.manifest.model import Manifest, Target
from modelstack.modelfile import ModelSignature
from modelstack.routing.cascade_eval import SELF, CascadeModel, Decide, answering, merge_outputs
from modelstack.routing.cascade_eval_cost import (
    UnitCost,
    cascade_cost_per_1k,
    requests_per_month,
    unit_cost,
)
from modelstack.routing.cascade_eval_sweep import Sweep

__all__ = ["CascadePoint", "CascadeResult", "evaluate_cascade", "runtime_decision"]

PER_MODEL = ("size_mb", "p50_ms", "p99_ms")
"""Gate names that describe one model, not a cascade; `modelstack evaluate` of each manifest
checks them."""


@dataclass(frozen=True)
class CascadePoint:
    """The cascade with one set of escalation thresholds."""

    threshold: float | None
    """The swept threshold; None for the thresholds the manifest declares."""
    rows: int
    answered: dict[str, int]
    metrics: dict[str, float]
    cost_per_1k_usd: float | None

    @property
    def escalated(self) -> int:
        return self.rows - self.answered.get(SELF, 0)

    @property
    def escalation_rate(self) -> float:
        return self.escalated / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "rows": self.rows,
            "escalated": self.escalated,
            "escalation_rate": self.escalation_rate,
            "answered": dict(self.answered),
            "metrics": dict(self.metrics),
            "cost_per_1k_usd": self.cost_per_1k_usd,
        }


@dataclass(frozen=True)
class CascadeResult:
    manifest: str
    target: str | None
    rules: tuple[str, ...]
    """Each escalation rule as text, in order."""
    cascade: CascadePoint
    baseline: dict[str, float]
    """The last tier's metrics with every request escalated to it."""
    gates: tuple[GateResult, ...]
    costs: tuple[UnitCost, ...]
    sweep: tuple[CascadePoint, ...] = ()
    sweep_condition: str | None = None

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    @property
    def cost_notes(self) -> tuple[str, ...]:
        return tuple(c.reason for c in self.costs if c.usd is None)


@dataclass(frozen=True)
class _Run:
    spec: EvaluationSpec
    signature: ModelSignature
    datasets: Sequence[Dataset]
    models: dict[str, CascadeModel]
    costs: dict[str, UnitCost]


def _outputs(manifest: Manifest, datasets: Sequence[Dataset], batch: int) -> tuple[Any, ...]:
    from modelstack.smoke.local import prepare_local

    bundle = prepare_local(manifest)
    client = in_process_client(manifest, bundle, Path(bundle.config.model_path))
    try:
        return tuple(run_outputs(client, d, batch) for d in datasets)
    finally:
        client.close()


def _entry_target(manifest: Manifest, name: str | None) -> Target | None:
    from modelstack.providers import provider_for

    if name is not None:
        if name not in manifest.targets:
            targets = ", ".join(manifest.targets)
            raise EvaluationError(f"{manifest.path}: no target '{name}' (targets: {targets})")
        return manifest.targets[name]
    clouds = [t for t in manifest.targets.values() if provider_for(t).is_cloud]
    return clouds[0] if len(clouds) == 1 else None


def _load(manifest: Manifest, routing: Any, target: str | None) -> _Run:
    from modelstack.manifest import load_manifest
    from modelstack.smoke.local import prepare_local

    spec = require_evaluation(manifest)
    signature = prepare_local(manifest).signature
    datasets = load_datasets(manifest, signature)
    volume = requests_per_month(manifest)
    models = {
        SELF: CascadeModel(SELF, manifest.name, _outputs(manifest, datasets, spec.batch_size))
    }
    costs = {SELF: unit_cost(manifest.name, manifest, _entry_target(manifest, target), volume)}
    for rule in routing.escalate:
        if rule.to in models:
            continue
        tier = routing.tiers[rule.to]
        tier_manifest = load_manifest(tier.manifest_path)
        outputs = _outputs(tier_manifest, datasets, spec.batch_size)
        models[rule.to] = CascadeModel(rule.to, tier_manifest.name, outputs)
        tier_target = tier_manifest.targets.get(tier.target)
        costs[rule.to] = unit_cost(rule.to, tier_manifest, tier_target, volume)
    return _Run(spec, signature, datasets, models, costs)


def _point(
    run: _Run, rules: Sequence[Any], decide: Decide, threshold: float | None
) -> CascadePoint:
    merged = []
    answered = dict.fromkeys(run.models, 0)
    reached = dict.fromkeys(run.models, 0)
    for index, dataset in enumerate(run.datasets):
        paths = answering(rules, run.models, decide, index, dataset.rows)
        for path in paths:
            answered[path[-1]] += 1
            for name in path[1:]:
                reached[name] += 1  # every hop is a request to that tier
        merged.append(merge_outputs(run.models, [p[-1] for p in paths], index))
    metrics, _ = score(run.spec, run.signature, merged, run.datasets)
    rows = sum(d.rows for d in run.datasets)
    tiers = {n: (run.costs[n], reached[n] / rows) for n in run.models if n != SELF}
    # `reached` per tier: hops per entry request (a tier escalated to twice is paid twice)
    cost = cascade_cost_per_1k(run.costs[SELF], tiers) if rows else None
    return CascadePoint(threshold, rows, answered, metrics, cost)


def _gates(run: _Run, point: CascadePoint, baseline: Mapping[str, float]) -> list[GateResult]:
    gates = {n: g for n, g in run.spec.gates.items() if n not in PER_MODEL}
    results = check_gates(gates, point.metrics, baseline)
    detail = "skipped: a property of each model, not of the cascade; evaluate each manifest"
    for name, gate in run.spec.gates.items():
        if name not in PER_MODEL:
            continue
        for bound in ("min", "max", "max_drop", "min_improvement_pct"):
            limit = getattr(gate, bound)
            if limit is not None:
                results.append(GateResult(name, bound, limit, None, None, True, detail, True))
    return results


def _baseline(run: _Run, last: str) -> dict[str, float]:
    metrics, _ = score(run.spec, run.signature, list(run.models[last].outputs), run.datasets)
    return metrics


def evaluate_cascade(
    manifest: Manifest,
    routing: Any,
    decide: Decide,
    *,
    target: str | None = None,
    sweep: Sweep | None = None,
) -> CascadeResult:
    """Evaluate `manifest`'s escalation cascade; with `sweep`, at each of its thresholds too."""
    rules = tuple(routing.escalate)
    if not rules:
        raise EvaluationError(f"{manifest.path}: routing has no escalate rules to evaluate")
    run = _load(manifest, routing, target)
    declared = _point(run, rules, decide, None)
    baseline = _baseline(run, rules[-1].to)
    points: list[CascadePoint] = []
    if sweep is not None:
        for threshold in sweep.thresholds:
            changed = dataclasses.replace(rules[0], condition=sweep.condition, threshold=threshold)
            points.append(_point(run, (changed, *rules[1:]), decide, threshold))
    return CascadeResult(
        manifest=str(manifest.path),
        target=target,
        rules=tuple(f"{r.output} {r.condition} {r.threshold:g} -> {r.to}" for r in rules),
        cascade=declared,
        baseline=baseline,
        gates=tuple(_gates(run, declared, baseline)),
        costs=tuple(run.costs.values()),
        sweep=tuple(points),
        sweep_condition=sweep.condition if sweep else None,
    )


def runtime_decision(rule: Any, outputs: Mapping[str, Any]) -> bool:
    """The runtime's own escalation decision on one row's outputs (so that evaluation and
    serving cannot disagree)."""
    from modelstack_runtime.routing import should_escalate

    if rule.output not in outputs:
        raise EvaluationError(
            f"routing.escalate to '{rule.to}' reads output '{rule.output}', which the model "
            f"answering so far does not have (its outputs: {', '.join(sorted(outputs))})"
        )
    return should_escalate(rule.condition, rule.threshold, outputs[rule.output])
