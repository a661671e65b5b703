"""The cost report as JSON (a stable contract), text, or Markdown for a pull-request comment."""

from __future__ import annotations

from typing import Any

from modelstack.cost.estimate import CURVE_POINTS, Estimate

__all__ = ["report_dict", "report_markdown", "report_text", "text_chart"]


def report_dict(
    estimate: Estimate, *, break_even: float | None, curves: dict[str, list[float]]
) -> dict[str, Any]:
    tables = [
        {"provider": t.service, "region": t.region, "date": t.date.isoformat(), "file": t.origin}
        for t in estimate.tables
    ]
    return {
        "target": estimate.target,
        "provider": estimate.provider,
        "region": estimate.region,
        "price_date": estimate.tables[0].date.isoformat(),
        "price_tables": tables,
        "requests_per_month": round(estimate.profile.requests_per_month, 3),
        "peak_requests_per_second": round(estimate.profile.peak_per_second, 6),
        "duration_ms": estimate.duration_ms,
        "payload_bytes": estimate.profile.payload_bytes,
        "traffic": estimate.profile.origin,
        "declared": estimate.declared,
        "options": [o.to_dict() for o in estimate.options],
        "break_even_requests_per_month": None if break_even is None else round(break_even),
        "curve": {
            "requests_per_month": list(CURVE_POINTS),
            "monthly_usd": {k: [round(v, 2) for v in vs] for k, vs in curves.items()},
        },
        "notes": list(estimate.notes),
    }


def _usd(value: float) -> str:
    return f"${value:,.2f}"


def _rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for o in report["options"]:
        mark = " (declared)" if o["option"] == report["declared"] else ""
        free = _usd(o["free_tier_usd"]) if o["free_tier_usd"] else "-"
        rows.append((o["option"] + mark, _usd(o["monthly_usd"]), free, o["detail"]))
    return rows


def text_chart(report: dict[str, Any], width: int = 40) -> str:
    """Monthly cost against requests per month, one bar per option, on a log scale of cost."""
    import math

    curve = report["curve"]
    names = list(curve["monthly_usd"])
    top = max((v for s in curve["monthly_usd"].values() for v in s), default=1.0) or 1.0
    label = max(len(n) for n in names) if names else 0
    lines = [f"monthly cost against requests per month (bars: log scale up to {_usd(top)})"]
    for i, n in enumerate(curve["requests_per_month"]):
        lines.append(f"{n:>14,.0f} requests/month")
        for name in names:
            value = curve["monthly_usd"][name][i]
            size = (
                0
                if value <= 0.01
                else int(width * math.log10(value / 0.01) / math.log10(top / 0.01 or 10))
            )
            lines.append(f"  {name:<{label}} {'#' * max(0, size):<{width}} {_usd(value)}")
    return "\n".join(lines)


def _break_even_line(report: dict[str, Any]) -> str:
    value = report["break_even_requests_per_month"]
    if value is None:
        return "break-even: reserved is never cheaper than the declared option (or not priced)"
    if value == 0:
        return "break-even: reserved is cheaper at any traffic"
    return (
        f"break-even: reserved costs less than {report['declared']} from "
        f"{value:,.0f} requests per month"
    )


def report_text(report: dict[str, Any], *, chart: bool = True) -> str:
    head = (
        f"Cost of target {report['target']} ({report['provider']}, {report['region']}), prices "
        f"of {report['price_date']}; {report['requests_per_month']:,.0f} requests/month "
        f"(peak {report['peak_requests_per_second']:.3g}/s) from {report['traffic']}, "
        f"{report['duration_ms']:g} ms each"
    )
    rows = [("OPTION", "MONTHLY", "FREE TIER", "DETAIL"), *_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    body = [
        f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}".rstrip() for a, b, c, d in rows
    ]
    parts = [head, "", *body, "", _break_even_line(report)]
    parts += [f"note: {n}" for n in report["notes"]]
    for o in report["options"]:
        parts += [f"note ({o['option']}): {n}" for n in o["notes"]]
    if chart:
        parts += ["", text_chart(report)]
    return "\n".join(parts) + "\n"


def report_markdown(report: dict[str, Any]) -> str:
    lines = [
        f"### Monthly cost: {report['target']} ({report['provider']}, {report['region']})",
        "",
        f"{report['requests_per_month']:,.0f} requests/month, {report['duration_ms']:g} ms each; "
        f"prices of {report['price_date']}.",
        "",
        "| option | monthly | free tier | detail |",
        "|---|---:|---:|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in _rows(report)]
    lines += ["", _break_even_line(report)]
    lines += [f"- {n}" for n in report["notes"]]
    return "\n".join(lines) + "\n"
