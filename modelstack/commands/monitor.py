"""`modelstack monitor`: a target's latency, errors, cost per 1,000 requests and drift."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import TextIO

from modelstack.errors import UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target
from modelstack.monitor.report import build_report, render_text
from modelstack.monitor.spec import monitoring_spec
from modelstack.providers import NOT_SUPPORTED, provider_for

__all__ = ["FORMATS", "monitor", "parse_since"]

FORMATS = ("text", "json")
_SINCE = re.compile(r"([1-9][0-9]{0,5})([smhd])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_SINCE_S = 15 * 86400
"""CloudWatch keeps one-minute data for 15 days."""


def parse_since(text: str) -> float:
    """`--since` as seconds: a count and a unit (s, m, h or d), such as 24h; at most 15d."""
    match = _SINCE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--since {text!r}: give a count and a unit (s, m, h, d), such as 24h")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > MAX_SINCE_S:
        raise UsageError(f"--since {text}: at most 15d (the metrics' one-minute retention)")
    return float(seconds)


def monitor(
    manifest_path: str,
    *,
    target: str | None = None,
    since: str = "24h",
    fmt: str = "text",
    html: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Print the report; 1 when a threshold or alarm bound is crossed, else 0."""
    out = out or sys.stdout
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    since_s = parse_since(since)
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target)
    source = provider_for(chosen).monitoring(chosen)
    if source is NOT_SUPPORTED:
        raise UsageError(f"target '{chosen.name}' has no metrics that monitor can read")
    readings = source.read(manifest, since_s)
    report = build_report(chosen, since, readings, monitoring_spec(manifest))
    if fmt == "json":
        out.write(json.dumps(report.to_json(), indent=2) + "\n")
    else:
        out.write(render_text(report))
    if html is not None:
        from modelstack.atomic_write import write_atomically
        from modelstack.monitor.html import render_html

        write_atomically(Path(html), render_html(report).encode("utf-8"))
    return 1 if report.breaches else 0
