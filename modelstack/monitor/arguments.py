"""The `modelstack monitor` subcommand's arguments (light: the parser imports it)."""

from __future__ import annotations

import argparse

__all__ = ["add_monitor_parser"]


def add_monitor_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="latency, errors, cost per 1,000 requests and drift of a deployed target",
        description="Read a target's request metrics (the local containers' /metrics, "
        "CloudWatch on AWS Lambda, Cloud Monitoring on Cloud Run): p50 and p99 latency, the "
        "error rate, the request count, the estimated cost of 1,000 requests at the measured "
        "latency, and each watched feature's PSI against the build's reference profile with its "
        "band. Thresholds and alarm bounds come from the manifest's monitoring: section.",
        epilog="exit codes: 0 ok, 1 a threshold or alarm bound is crossed, 2 usage error, "
        "3 the metrics could not be read",
    )
    p.add_argument("manifest", help="path to modelstack.yaml")
    p.add_argument("--target", "-t", metavar="NAME", help="target (default: the only one)")
    p.add_argument(
        "--since",
        default="24h",
        metavar="AGE",
        help="how far back to read, such as 30m, 24h or 7d (default 24h; the local target's "
        "counters run from each container's start)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML report")
