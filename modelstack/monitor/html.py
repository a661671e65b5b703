"""A self-contained HTML report: figures, an inline SVG latency histogram and drift bars."""

from __future__ import annotations

import math
from html import escape

from modelstack.monitor.report import MonitorReport

__all__ = ["render_html"]

_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "alarm": "#c62828"}
_WIDTH = 640


def _histogram(buckets: tuple[tuple[float, int], ...]) -> str:
    if not buckets or not any(count for _, count in buckets):
        return "<p>No requests in the period.</p>"
    top = max(count for _, count in buckets)
    bar = _WIDTH // len(buckets)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="180" '
             'role="img" aria-label="latency histogram">']  # fmt: skip
    for i, (bound, count) in enumerate(buckets):
        height = 0 if top == 0 else round(140 * count / top)
        label = "+Inf" if math.isinf(bound) else f"{bound:g}"
        x = i * bar
        parts.append(
            f'<rect x="{x + 2}" y="{150 - height}" width="{bar - 4}" height="{height}" '
            f'fill="#1565c0"><title>&le; {escape(label)} ms: {count}</title></rect>'
            f'<text x="{x + bar // 2}" y="170" font-size="9" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _drift(report: MonitorReport) -> str:
    if not report.drift:
        return "<p>No drift figures (no monitoring profile, or too few rows in the window).</p>"
    top = max(max(v for _, v, _ in report.drift), 0.3)
    row = 22
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" '
             f'height="{row * len(report.drift) + 4}" role="img" aria-label="drift">']  # fmt: skip
    for i, (name, value, band) in enumerate(report.drift):
        width = round(380 * min(value, top) / top)
        y = i * row
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12">{escape(name)}</text>'
            f'<rect x="200" y="{y + 3}" width="{width}" height="16" fill="{_COLOURS[band]}"/>'
            f'<text x="{205 + width}" y="{y + 15}" font-size="12">{value:.3f} {band}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: MonitorReport) -> str:
    """The report as one HTML page with no scripts and nothing fetched."""
    r = report.readings
    rate = "-" if r.error_rate is None else f"{r.error_rate:.2%}"
    cost = "-" if report.cost_per_1000_usd is None else f"${report.cost_per_1000_usd:.6f}"
    p50 = "-" if r.p50_ms is None else f"{r.p50_ms:.2f} ms"
    p99 = "-" if r.p99_ms is None else f"{r.p99_ms:.2f} ms"
    figures = [("requests", str(r.requests)), ("error rate", rate), ("p50", p50),
               ("p99", p99), ("cost per 1,000 requests", cost)]  # fmt: skip
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in figures)
    alarms = "".join(f"<li>{escape(b.describe())}</li>" for b in report.breaches)
    title = escape(f"modelstack monitor: {report.target}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title><style>body{{font-family:sans-serif;margin:2em}}"
        "th{text-align:left;padding-right:1em}</style></head><body>"
        f"<h1>{title}</h1><p>since {escape(report.since)}, from {escape(r.source)}</p>"
        f"<table>{rows}</table>"
        f"<h2>Alarms</h2>{f'<ul>{alarms}</ul>' if alarms else '<p>None.</p>'}"
        f"<h2>Latency (ms)</h2>{_histogram(r.buckets)}"
        f"<h2>Drift (PSI)</h2>{_drift(report)}"
        "</body></html>\n"
    )
