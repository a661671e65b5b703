"""The manifest's `monitoring:` section as a typed object (defaults are the schema's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelstack.manifest.model import Manifest

__all__ = ["AlarmSpec", "MonitoringSpec", "ReferenceSpec", "monitoring_spec"]

DEFAULT_WINDOW_REQUESTS = 1000
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ReferenceSpec:
    path: str
    sha256: str | None = None
    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class AlarmSpec:
    p99_latency_ms: float | None = None
    error_rate: float | None = None
    throttles: bool = False
    drift: bool = True
    cost_per_day: float | None = None


@dataclass(frozen=True)
class MonitoringSpec:
    reference: ReferenceSpec | None = None
    window_requests: int | None = DEFAULT_WINDOW_REQUESTS
    window_seconds: float | None = None
    slices: int = 10
    min_rows: int = 100
    watch_inputs: tuple[str, ...] | None = None
    max_features: int = 100
    psi_warn: float = 0.1
    psi_alarm: float = 0.25
    alarms: AlarmSpec = field(default_factory=AlarmSpec)
    sns_topic_arn: str | None = None
    channel: str | None = None


def _reference(d: dict[str, Any] | None) -> ReferenceSpec | None:
    if d is None:
        return None
    return ReferenceSpec(
        path=d["path"],
        sha256=d.get("sha256"),
        max_rows=int(d.get("max_rows", DEFAULT_MAX_ROWS)),
        max_bytes=int(d.get("max_bytes", DEFAULT_MAX_BYTES)),
    )


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def spec_from_dict(d: dict[str, Any]) -> MonitoringSpec:
    """The typed section from its (schema-valid) entry."""
    window = d.get("window", {})
    watch = d.get("watch", {})
    thresholds = d.get("thresholds", {})
    alarms = d.get("alarms", {})
    notification = d.get("notification", {})
    seconds = _optional(window.get("seconds"))
    # seconds wins over requests (lint MS961 reports a window that sets both)
    requests = None if seconds is not None else window.get("requests", DEFAULT_WINDOW_REQUESTS)
    return MonitoringSpec(
        reference=_reference(d.get("reference")),
        window_requests=None if requests is None else int(requests),
        window_seconds=seconds,
        slices=int(window.get("slices", 10)),
        min_rows=int(window.get("min_rows", 100)),
        watch_inputs=tuple(watch["inputs"]) if "inputs" in watch else None,
        max_features=int(watch.get("max_features", 100)),
        psi_warn=float(thresholds.get("psi_warn", 0.1)),
        psi_alarm=float(thresholds.get("psi_alarm", 0.25)),
        alarms=AlarmSpec(
            p99_latency_ms=_optional(alarms.get("p99_latency_ms")),
            error_rate=_optional(alarms.get("error_rate")),
            throttles=bool(alarms.get("throttles", False)),
            drift=bool(alarms.get("drift", True)),
            cost_per_day=_optional(alarms.get("cost_per_day")),
        ),
        sns_topic_arn=notification.get("sns_topic_arn"),
        channel=notification.get("channel"),
    )


def monitoring_spec(manifest: Manifest) -> MonitoringSpec | None:
    """The manifest's `monitoring:` section, or None without one."""
    raw = manifest.source.data.get("monitoring")
    return None if raw is None else spec_from_dict(raw)
