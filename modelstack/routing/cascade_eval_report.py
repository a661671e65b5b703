"""A cascade's evaluation as text (a summary, the gates, the sweep table) or JSON."""

from __future__ import annotations

import json
from typing import Any

from modelstack.evaluate.gates import GateResult
from modelstack.routing.cascade_eval_run import CascadePoint, CascadeResult

__all__ = ["CASCADE_FORMATS", "cascade_dict", "format_cascade", "sweep_rows"]

CASCADE_FORMATS = ("text", "json")


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:.6f}"


def _metric(point: CascadePoint) -> tuple[str, float]:
    name = "accuracy" if "accuracy" in point.metrics else next(iter(point.metrics))
    return name, point.metrics[name]


def sweep_rows(result: CascadeResult) -> list[list[str]]:
    """Header and one row per swept threshold."""
    if not result.sweep:
        return []
    name, _ = _metric(result.sweep[0])
    rows = [["threshold", name, "escalation rate", "cost/1k"]]
    for point in result.sweep:
        rows.append(
            [
                f"{point.threshold:g}",
                f"{_metric(point)[1]:.4f}",
                f"{point.escalation_rate:.4f}",
                _usd(point.cost_per_1k_usd),
            ]
        )
    return rows


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                      enumerate(zip(row, widths, strict=True))).rstrip()
            for row in rows]  # fmt: skip


def _text(result: CascadeResult) -> str:
    point = result.cascade
    lines = [f"cascade of {result.manifest}: " + "; ".join(result.rules)]
    answered = ", ".join(f"{n} {c}" for n, c in point.answered.items())
    lines.append(f"  rows {point.rows}, answered by: {answered}")
    lines.append(f"  escalation rate {point.escalation_rate:.4f} ({point.escalated} rows)")
    for name, value in point.metrics.items():
        base = result.baseline.get(name)
        alone = f" (last tier alone: {base:.4f})" if base is not None else ""
        lines.append(f"  {name} {value:.4f}{alone}")
    lines.append(f"  expected cost per 1,000 requests {_usd(point.cost_per_1k_usd)}")
    lines += [f"    {note}" for note in result.cost_notes]
    lines += [f"  {gate.describe()}" for gate in result.gates]
    if result.sweep:
        lines.append(f"sweep of {result.sweep_condition} (first escalation rule):")
        lines += ["  " + line for line in _table(sweep_rows(result))]
    lines.append("PASSED" if result.passed else "FAILED")
    return "\n".join(lines)


def _gate(g: GateResult) -> dict[str, Any]:
    return {
        "metric": g.metric,
        "bound": g.bound,
        "limit": g.limit,
        "value": g.value,
        "baseline": g.baseline,
        "result": g.verdict,
        "detail": g.detail,
    }


def cascade_dict(result: CascadeResult) -> dict[str, Any]:
    return {
        "manifest": result.manifest,
        "target": result.target,
        "passed": result.passed,
        "rules": list(result.rules),
        "cascade": result.cascade.to_dict(),
        "baseline": {"model": "last tier alone", "metrics": dict(result.baseline)},
        "costs": [
            {"model": c.model, "usd_per_request": c.usd, "note": c.reason} for c in result.costs
        ],
        "gates": [_gate(g) for g in result.gates],
        "sweep": (
            {"condition": result.sweep_condition, "points": [p.to_dict() for p in result.sweep]}
            if result.sweep_condition
            else None
        ),
    }


def format_cascade(result: CascadeResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(cascade_dict(result), indent=2, sort_keys=True)
    return _text(result)
