"""Running smoke tests against any client, with latency budgets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import InferenceClient, InferenceFailed
from modelstack.smoke.compare import Mismatch, compare_outputs

__all__ = ["CaseResult", "SmokeReport", "run_smoke_tests"]

LATENCY_RUNS = 5
"""Runs per case when it has a latency budget; the median is compared with the budget."""


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    latency_ms: float
    budget_ms: float | None = None
    mismatches: tuple[Mismatch, ...] = ()
    error: str | None = None

    @property
    def problems(self) -> list[str]:
        """Human-readable reasons this case failed."""
        found = [m.message for m in self.mismatches]
        if self.error:
            found.append(self.error)
        if self.budget_ms is not None and self.latency_ms > self.budget_ms:
            found.append(
                f"latency {self.latency_ms:.2f} ms is over the budget of {self.budget_ms:g} ms"
            )
        return found


@dataclass(frozen=True)
class SmokeReport:
    target: str
    results: tuple[CaseResult, ...] = field(default_factory=tuple)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CaseResult]:
        return [r for r in self.results if not r.passed]


def run_smoke_tests(cases: Sequence[SmokeCase], client: InferenceClient) -> SmokeReport:
    """Run every case through `client`; never raises for a failing case."""
    started = time.perf_counter()
    results = tuple(_run_case(case, client) for case in cases)
    return SmokeReport(client.describe(), results, time.perf_counter() - started)


def _run_case(case: SmokeCase, client: InferenceClient) -> CaseResult:
    budget = case.test.max_latency_ms
    timings: list[float] = []
    try:
        for _ in range(LATENCY_RUNS if budget is not None else 1):
            start = time.perf_counter()
            outputs = client.infer(case.inputs)
            timings.append((time.perf_counter() - start) * 1000)
    except InferenceFailed as exc:
        latency = timings[-1] if timings else 0.0
        return CaseResult(case.name, False, latency, budget, error=str(exc))
    latency = statistics.median(timings)
    mismatches = tuple(compare_outputs(case.test.expected_outputs, outputs))
    over = budget is not None and latency > budget
    return CaseResult(case.name, not mismatches and not over, latency, budget, mismatches)
