"""The manifest's `traffic:` section as a typed object (the cost model turns it into a week)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["TrafficSpec", "traffic_from_dict"]


@dataclass(frozen=True)
class TrafficSpec:
    pattern: str = "flat"
    requests_per_month: float | None = None
    peak_factor: float = 10.0
    counts_file: str | None = None
    payload_bytes: int = 1024
    duration_ms: float | None = None
    init_ms: float | None = None
    target_utilization: float = 0.6


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def traffic_from_dict(d: dict[str, Any]) -> TrafficSpec:
    """The typed section from its (schema-valid) entry; defaults are the dataclass's."""
    return TrafficSpec(
        pattern=d.get("pattern", "flat"),
        requests_per_month=_number(d.get("requests_per_month")),
        peak_factor=float(d.get("peak_factor", 10.0)),
        counts_file=d.get("counts_file"),
        payload_bytes=int(d.get("payload_bytes", 1024)),
        duration_ms=_number(d.get("duration_ms")),
        init_ms=_number(d.get("init_ms")),
        target_utilization=float(d.get("target_utilization", 0.6)),
    )
