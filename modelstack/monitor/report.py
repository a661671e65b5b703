"""`modelstack monitor`'s report: latency, errors, cost per 1,000 requests and a drift table,
checked against the manifest's thresholds and alarms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelstack.errors import CostError
from modelstack.manifest.model import Target
from modelstack.monitor.readings import Readings
from modelstack.monitor.spec import MonitoringSpec
from modelstack_runtime.drift import band

__all__ = ["Breach", "MonitorReport", "build_report", "cost_per_1000", "render_text"]


@dataclass(frozen=True)
class Breach:
    what: str
    value: float
    limit: float

    def describe(self) -> str:
        return f"{self.what} is {self.value:.4g}, past {self.limit:.4g}"


@dataclass(frozen=True)
class MonitorReport:
    target: str
    since: str
    readings: Readings
    cost_per_1000_usd: float | None
    cost_note: str
    drift: tuple[tuple[str, float, str], ...]
    """(feature or output, PSI, band) rows, the highest PSI first."""
    breaches: tuple[Breach, ...]

    def to_json(self) -> dict[str, Any]:
        r = self.readings
        return {
            "target": self.target,
            "since": self.since,
            "source": r.source,
            "requests": r.requests,
            "errors": r.errors,
            "client_errors": r.client_errors,
            "throttles": r.throttles,
            "error_rate": r.error_rate,
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "cost_per_1000_usd": self.cost_per_1000_usd,
            "cost_note": self.cost_note,
            "drift": [{"name": n, "psi": v, "band": b} for n, v, b in self.drift],
            "window_rows": r.window_rows,
            "latency_buckets_ms": [[b, c] for b, c in r.buckets],
            "breaches": [b.describe() for b in self.breaches],
            "ok": not self.breaches,
        }


def cost_per_1000(target: Target, readings: Readings) -> tuple[float | None, str]:
    """The declared option's price of 1,000 requests at the measured p50 and payload size."""
    if readings.p50_ms is None or readings.requests == 0:
        return None, "no requests to price"
    from modelstack.cost.estimate import estimate_target
    from modelstack.cost.traffic import TrafficProfile

    payload = max(readings.request_bytes // readings.requests, 1)
    profile = TrafficProfile(
        hourly=(1000.0,) * 168, payload_bytes=payload, duration_ms=readings.p50_ms,
        origin="monitor",
    )  # fmt: skip
    try:
        estimate = estimate_target(target, profile, free_tier=False)
    except CostError as exc:
        return None, str(exc).split(";")[0]
    declared = next(o for o in estimate.options if o.option == estimate.declared)
    return declared.monthly_usd / profile.requests_per_month * 1000.0, estimate.declared


def build_report(
    target: Target, since: str, readings: Readings, spec: MonitoringSpec | None
) -> MonitorReport:
    """The report, with every threshold the readings cross."""
    warn = spec.thresholds.psi_warn if spec else 0.1
    alarm = spec.thresholds.psi_alarm if spec else 0.25
    rows = [(name, value, band(value, warn, alarm)) for name, value in readings.drift.items()]
    rows += [(f"output {n}", v, band(v, warn, alarm)) for n, v in readings.output_drift.items()]
    rows.sort(key=lambda row: -row[1])
    breaches = [Breach(f"PSI of {name}", value, alarm) for name, value, b in rows if b == "alarm"]
    alarms = spec.alarms if spec else None
    if alarms is not None:
        p99, bound = readings.p99_ms, alarms.p99_latency_ms
        if p99 is not None and bound is not None and p99 > bound:
            breaches.append(Breach("p99 latency (ms)", p99, bound))
        rate = readings.error_rate
        if alarms.error_rate is not None and rate is not None and rate > alarms.error_rate:
            breaches.append(Breach("error rate", rate, alarms.error_rate))
        if alarms.throttles and readings.throttles > 0:
            breaches.append(Breach("throttled requests", readings.throttles, 0))
    cost, note = cost_per_1000(target, readings)
    if alarms is not None and alarms.cost_per_day is not None and cost is not None:
        per_day = cost / 1000.0 * readings.requests  # the period read, taken as a day
        if per_day > alarms.cost_per_day:
            breaches.append(Breach("cost per day (USD)", per_day, alarms.cost_per_day))
    return MonitorReport(target.name, since, readings, cost, note, tuple(rows), tuple(breaches))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def render_text(report: MonitorReport) -> str:
    r = report.readings
    rate = "-" if r.error_rate is None else f"{r.error_rate:.2%}"
    cost = (
        f"${report.cost_per_1000_usd:.6f} ({report.cost_note})"
        if report.cost_per_1000_usd is not None
        else f"- ({report.cost_note})"
    )
    lines = [
        f"target {report.target} since {report.since} ({r.source})",
        f"  requests {r.requests}   errors {r.errors}   client errors {r.client_errors}   "
        f"error rate {rate}",
        f"  p50 {_ms(r.p50_ms)}   p99 {_ms(r.p99_ms)}",
        f"  cost per 1,000 requests {cost}",
    ]
    if report.drift:
        width = max(len(name) for name, _, _ in report.drift)
        lines.append(f"  {'feature'.ljust(width)}  {'PSI':>8}  band")
        for name, value, b in report.drift:
            lines.append(f"  {name.ljust(width)}  {value:8.4f}  {b}")
    elif r.window_rows is not None:
        lines.append(f"  drift: {r.window_rows} rows in the window, too few to report PSI")
    for breach in report.breaches:
        lines.append(f"ALARM: {breach.describe()}")
    return "\n".join(lines) + "\n"
