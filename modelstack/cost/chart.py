"""The cost chart as a PNG or SVG file, drawn with matplotlib (the `plot` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelstack.errors import MissingDependencyError, UsageError

__all__ = ["CHART_SUFFIXES", "write_chart"]

CHART_SUFFIXES = (".png", ".svg")


def write_chart(report: dict[str, Any], path: str) -> None:
    """Each option's monthly cost against requests per month, log-log, into `path`."""
    if Path(path).suffix.lower() not in CHART_SUFFIXES:
        raise UsageError(f"--chart {path}: the file must end in .png or .svg")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise MissingDependencyError("drawing the cost chart", "plot") from None
    curve = report["curve"]
    figure, axes = pyplot.subplots(figsize=(8, 5))
    for name, values in curve["monthly_usd"].items():
        axes.plot(
            curve["requests_per_month"],
            [max(v, 0.01) for v in values],
            marker="o",
            label=name + (" (declared)" if name == report["declared"] else ""),
        )
    if report["break_even_requests_per_month"]:
        axes.axvline(
            report["break_even_requests_per_month"],
            linestyle="--",
            color="grey",
            label="break-even",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("requests per month")
    axes.set_ylabel("monthly cost (USD)")
    axes.set_title(f"{report['target']} ({report['provider']}, {report['region']})")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
