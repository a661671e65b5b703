"""Smoke-test reports for people (text) and for CI (json, junit)."""

from __future__ import annotations

import json
import math
from xml.etree import ElementTree

from modelstack.smoke.runner import SmokeReport

__all__ = ["REPORT_FORMATS", "SETUP_CASE", "format_report", "junit_error_report"]

REPORT_FORMATS = ("text", "json", "junit")
SETUP_CASE = "setup"
"""The test case of a JUnit report for a run that stopped before any smoke test."""


def format_report(report: SmokeReport, fmt: str, suite: str) -> str:
    return {"text": _text, "json": _json, "junit": _junit}[fmt](report, suite)


def _text(report: SmokeReport, suite: str) -> str:
    lines = [f"smoke tests for {suite} on {report.target}"]
    for r in report.results:
        budget = f" (budget {r.budget_ms:g} ms)" if r.budget_ms is not None else ""
        lines.append(f"  {'PASS' if r.passed else 'FAIL'}  {r.name}  {r.latency_ms:.2f} ms{budget}")
        lines.extend(f"        {problem}" for problem in r.problems)
    failed = len(report.failures)
    lines.append(
        f"{len(report.results) - failed} passed, {failed} failed in {report.duration_s:.2f} s"
    )
    return "\n".join(lines)


def _json(report: SmokeReport, suite: str) -> str:
    data = {
        "suite": suite,
        "target": report.target,
        "passed": report.passed,
        "duration_s": round(report.duration_s, 4),
        "results": [
            {
                "name": r.name,
                "passed": r.passed,
                "latency_ms": round(r.latency_ms, 4),
                "budget_ms": r.budget_ms,
                "problems": r.problems,
                "mismatches": [
                    {
                        "output": m.output,
                        "max_abs_error": _number(m.max_abs_error),
                        "max_rel_error": _number(m.max_rel_error),
                        "index": list(m.index) if m.index is not None else None,
                    }
                    for m in r.mismatches
                ],
            }
            for r in report.results
        ],
    }
    return json.dumps(data, indent=2, sort_keys=True)


def _number(value: float | None) -> float | None:
    """JSON has no inf or NaN (json.dumps would write invalid `Infinity`); those become null."""
    return value if value is not None and math.isfinite(value) else None


def _junit(report: SmokeReport, suite: str) -> str:
    root = _testsuite(
        suite,
        tests=len(report.results),
        failures=len(report.failures),
        duration_s=report.duration_s,
    )
    for r in report.results:
        case = ElementTree.SubElement(
            root, "testcase", classname=suite, name=r.name, time=_seconds(r.latency_ms / 1000)
        )
        if not r.passed:
            failure = ElementTree.SubElement(case, "failure", message=r.problems[0])
            failure.text = "\n".join(r.problems)
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def junit_error_report(suite: str, error: BaseException) -> str:
    """A JUnit report for a run that stopped before any smoke test (an unreadable manifest, a
    sha256 mismatch): one test case with the reason as its error, so that CI reporters show
    the problem instead of "no test results"."""
    root = _testsuite(suite, tests=1, errors=1)
    case = ElementTree.SubElement(root, "testcase", classname=suite, name=SETUP_CASE, time="0.000")
    message = str(error) or type(error).__name__
    element = ElementTree.SubElement(
        case, "error", message=message.splitlines()[0], type=type(error).__name__
    )
    element.text = message
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def _testsuite(
    suite: str, *, tests: int, failures: int = 0, errors: int = 0, duration_s: float = 0.0
) -> ElementTree.Element:
    return ElementTree.Element(
        "testsuite",
        name=suite,
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
        time=_seconds(duration_s),
    )


def _seconds(value: float) -> str:
    """At most three decimals: strict JUnit schemas (Jenkins, Surefire) refuse more."""
    return f"{value:.3f}"
