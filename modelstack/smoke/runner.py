"""Running smoke tests against any client, with latency budgets."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import InferenceClient, InferenceFailed, answered_by
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
    wrong_model: str | None = None
    try:
        for _ in range(LATENCY_RUNS if budget is not None else 1):
            start = time.perf_counter()
            outputs = client.infer(case.inputs)
            timings.append((time.perf_counter() - start) * 1000)
            wrong_model = wrong_model or _model_problem(case.test.expect_model, client)
    except InferenceFailed as exc:
        latency = timings[-1] if timings else 0.0
        return CaseResult(case.name, False, latency, budget, error=str(exc))
    latency = statistics.median(timings)
    mismatches = tuple(compare_outputs(case.test.expected_outputs, outputs))
    over = budget is not None and latency > budget
    passed = not mismatches and not over and wrong_model is None
    return CaseResult(case.name, passed, latency, budget, mismatches, error=wrong_model)


def _model_problem(expected: str | None, client: InferenceClient) -> str | None:
    """Why the answer breaks `expect_model`, or None when it keeps it (or there is none)."""
    if expected is None:
        return None
    actual = answered_by(client)
    if actual is None:
        return f"expect_model '{expected}': {client.describe()} does not say which model answered"
    if actual != expected:
        return f"expect_model '{expected}': the answer came from model '{actual}'"
    return None
