"""Evaluation reports: a table for people (text, markdown), and json or junit for CI.

With a baseline the table compares the two models row by row (size, latency, each metric and
its change); `modelstack optimize` prints the same table with the original as the baseline.
"""

from __future__ import annotations

import json
import math
from typing import Any
from xml.etree import ElementTree

from modelstack.evaluate.runner import EvaluationResult
from modelstack.evaluate.scoring import ModelScores

__all__ = ["REPORT_FORMATS", "comparison_rows", "format_evaluation", "json_ready"]

REPORT_FORMATS = ("text", "json", "junit", "markdown")

_UNITS = {"size_mb": "MB", "p50_ms": "ms", "p99_ms": "ms"}


def _value(name: str, value: float) -> str:
    if name in _UNITS:
        return f"{value:.3f} {_UNITS[name]}" if value < 10 else f"{value:.1f} {_UNITS[name]}"
    return f"{value:.4f}"


def _change(name: str, value: float, base: float) -> str:
    if name in _UNITS:
        return f"{value / base:.2f}x" if base else "-"
    points = " points" if name.endswith(("accuracy", "f1", "agreement")) else ""
    scale = 100 if points else 1
    return f"{(value - base) * scale:+.2f}{points}" if points else f"{value - base:+.4f}"


def comparison_rows(candidate: ModelScores, baseline: ModelScores | None) -> list[list[str]]:
    """Header and rows: each measurement and metric, the baseline's value and the change."""
    names = ["size_mb", "p50_ms", "p99_ms", *candidate.metrics]
    values, base = candidate.values(), baseline.values() if baseline else None
    if base is None:
        rows = [["", candidate.model]]
        rows += [[n, _value(n, values[n])] for n in names]
        return rows
    assert baseline is not None
    rows = [["", baseline.model, candidate.model, "change"]]
    for n in names:
        if n not in base:  # a recorded baseline from before the metric was asked for
            rows.append([n, "-", _value(n, values[n]), "-"])
            continue
        rows.append([n, _value(n, base[n]), _value(n, values[n]), _change(n, values[n], base[n])])
    return rows


def _table(rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(rows[0]) + " |", "|---" + "|---:" * (len(rows[0]) - 1) + "|"]
        return lines + ["| " + " | ".join(r) + " |" for r in rows[1:]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                  enumerate(zip(r, widths, strict=True))).rstrip()
        for r in rows
    ]  # fmt: skip


def _gate_lines(result: EvaluationResult, markdown: bool) -> list[str]:
    if not result.gates:
        return ["no gates (add evaluation.gates to fail on a bad model)"]
    prefix = "- " if markdown else "  "
    failed = sum(not g.passed for g in result.gates)
    skipped = sum(g.skipped for g in result.gates)
    passed = len(result.gates) - failed - skipped
    lines = [
        f"gates: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")
    ]
    return lines + [prefix + g.describe() for g in result.gates]


def _text(result: EvaluationResult, markdown: bool = False) -> str:
    title = f"evaluation of {result.manifest}" + (f" for {result.target}" if result.target else "")
    lines = [f"## {title}" if markdown else title, ""]
    lines += _table(comparison_rows(result.candidate, result.baseline), markdown)
    lines += ["", *_gate_lines(result, markdown)]
    lines.append("")
    lines.append("PASSED" if result.passed else "FAILED: a gate failed")
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """`value` with every non-finite float as None (JSON has no NaN or infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_ready(v) for v in value]
    return value


def _junit(result: EvaluationResult) -> str:
    failures = [g for g in result.gates if not g.passed]
    root = ElementTree.Element(
        "testsuite", name=f"evaluation {result.manifest}", tests=str(len(result.gates)),
        failures=str(len(failures)), errors="0", skipped=str(sum(g.skipped for g in result.gates)),
    )  # fmt: skip
    for gate in result.gates:
        case = ElementTree.SubElement(
            root, "testcase", classname="evaluation", name=f"{gate.metric} {gate.bound}"
        )
        if gate.skipped:
            ElementTree.SubElement(case, "skipped", message=gate.detail)
        elif not gate.passed:
            ElementTree.SubElement(case, "failure", message=gate.detail).text = gate.describe()
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def format_evaluation(result: EvaluationResult, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(json_ready(result.to_dict()), indent=2, sort_keys=True)
    if fmt == "junit":
        return _junit(result)
    return _text(result, markdown=fmt == "markdown")
