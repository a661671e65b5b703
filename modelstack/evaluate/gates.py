"""Gates: absolute bounds on a model's numbers, and bounds relative to a baseline's."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from modelstack.evaluate.catalog import higher_is_better
from modelstack.manifest.evaluation import GateSpec

__all__ = ["GateResult", "check_gates"]


@dataclass(frozen=True)
class GateResult:
    metric: str
    bound: str
    """min, max, max_drop or min_improvement_pct."""
    limit: float
    value: float | None
    baseline: float | None
    passed: bool
    detail: str
    skipped: bool = False
    """A relative bound with no baseline to compare with (a first release): reported, not failed."""

    @property
    def verdict(self) -> str:
        return "skip" if self.skipped else "pass" if self.passed else "FAIL"

    def describe(self) -> str:
        verdict = self.verdict
        return f"{verdict}  {self.metric} {self.bound} {self.limit:g}: {self.detail}"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _absolute(name: str, bound: str, limit: float, value: float) -> GateResult:
    passed = value >= limit if bound == "min" else value <= limit
    relation = (">=" if bound == "min" else "<=") if passed else ("<" if bound == "min" else ">")
    return GateResult(
        name, bound, limit, value, None, passed, f"{_fmt(value)} {relation} {limit:g}"
    )


def _relative(name: str, bound: str, limit: float, value: float, base: float) -> GateResult:
    higher = higher_is_better(name)
    if bound == "max_drop":
        drop = (base - value) if higher else (value - base)
        return GateResult(
            name, bound, limit, value, base, drop <= limit + 1e-12,
            f"{_fmt(value)} against baseline {_fmt(base)}: worse by {_fmt(drop)}",
        )  # fmt: skip
    if base == 0:
        return GateResult(name, bound, limit, value, base, False, "the baseline is 0")
    gain = ((value - base) if higher else (base - value)) / abs(base) * 100
    return GateResult(
        name, bound, limit, value, base, gain >= limit - 1e-9,
        f"{_fmt(value)} against baseline {_fmt(base)}: {gain:+.1f}% better",
    )  # fmt: skip


def check_gates(
    gates: Mapping[str, GateSpec],
    values: Mapping[str, float],
    baseline: Mapping[str, float] | None,
) -> list[GateResult]:
    """One result per bound of every gate. A relative bound without a baseline (the first
    release, with no evaluation.baseline) is reported as skipped."""
    results: list[GateResult] = []
    for name, gate in gates.items():
        value = values.get(name)
        for bound in ("min", "max", "max_drop", "min_improvement_pct"):
            limit = getattr(gate, bound)
            if limit is None:
                continue
            if value is None:
                results.append(GateResult(name, bound, limit, None, None, False, "not measured"))
            elif bound in ("min", "max"):
                results.append(_absolute(name, bound, limit, value))
            elif baseline is None or name not in baseline:
                results.append(
                    GateResult(name, bound, limit, value, None, True,
                               "skipped: no baseline to compare with (set evaluation.baseline; "
                               "`modelstack optimize` compares with the current model)", True)
                )  # fmt: skip
            else:
                results.append(_relative(name, bound, limit, value, baseline[name]))
    return results
