"""The end of a deploy command, for machines: a JSON summary and a GitHub step summary."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

__all__ = ["describe_metrics", "write_github_summary", "write_json_summary"]


def describe_metrics(metrics: Mapping[str, Any]) -> str:
    """`accuracy 0.95, macro_f1 0.94`: recorded metrics in one line (None shows as n/a)."""
    if not metrics:
        return "no metrics"
    return ", ".join(
        f"{name} {value:.4g}" if isinstance(value, int | float) else f"{name} n/a"
        for name, value in metrics.items()
    )


def write_json_summary(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, indent=2, sort_keys=True))


def write_github_summary(summary: dict[str, Any]) -> None:
    """Append a Markdown table to $GITHUB_STEP_SUMMARY when GitHub Actions provides one."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    icon = {"ok": "✅", "failed": "❌", "skipped": "⏭️", "running": "…"}
    lines = [
        f"### modelstack {summary['command']}: {summary['model']} → {summary['target']} "
        f"({summary['result']})",
        "",
        "| step | result | seconds | detail |",
        "|---|---|---:|---|",
    ]
    for step in summary["steps"]:
        detail = str(step["detail"]).replace("|", "\\|").replace("\n", " ")
        lines.append(
            f"| {step['step']} | {icon.get(step['status'], step['status'])} "
            f"| {step['seconds']} | {detail} |"
        )
    evaluation = summary.get("evaluation")
    if evaluation:
        lines += ["", f"Evaluation: {describe_metrics(evaluation['candidate']['metrics'])}."]
    if summary.get("version"):
        lines += ["", f"Serving version **{summary['version']}** at `{summary['endpoint']}`."]
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n\n")
