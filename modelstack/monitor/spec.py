"""The manifest's `monitoring:` section as typed objects (defaults are the schema's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelstack.manifest.model import Manifest

__all__ = [
    "AlarmSpec",
    "MonitoringSpec",
    "ReferenceSpec",
    "ThresholdSpec",
    "WatchSpec",
    "WindowSpec",
    "monitoring_spec",
]


@dataclass(frozen=True)
class ReferenceSpec:
    path: str
    sha256: str | None = None
    max_rows: int = 100_000
    max_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class WindowSpec:
    requests: int = 1000
    seconds: float | None = None
    """When set, the window is this long in seconds and `requests` is not used (MS961)."""
    slices: int = 10
    min_rows: int = 100


@dataclass(frozen=True)
class WatchSpec:
    inputs: tuple[str, ...] | None = None
    max_features: int = 100


@dataclass(frozen=True)
class ThresholdSpec:
    psi_warn: float = 0.1
    psi_alarm: float = 0.25


@dataclass(frozen=True)
class AlarmSpec:
    p99_latency_ms: float | None = None
    error_rate: float | None = None
    throttles: bool = False
    drift: bool = True
    cost_per_day: float | None = None


@dataclass(frozen=True)
class NotificationSpec:
    sns_topic_arn: str | None = None
    channel: str | None = None


@dataclass(frozen=True)
class MonitoringSpec:
    reference: ReferenceSpec | None = None
    window: WindowSpec = field(default_factory=WindowSpec)
    watch: WatchSpec = field(default_factory=WatchSpec)
    thresholds: ThresholdSpec = field(default_factory=ThresholdSpec)
    alarms: AlarmSpec = field(default_factory=AlarmSpec)
    notification: NotificationSpec = field(default_factory=NotificationSpec)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def spec_from_dict(d: dict[str, Any]) -> MonitoringSpec:
    """The typed section from its (schema-valid) entry."""
    ref = d.get("reference")
    window = d.get("window", {})
    watch = d.get("watch", {})
    thresholds = d.get("thresholds", {})
    alarms = d.get("alarms", {})
    notification = d.get("notification", {})
    return MonitoringSpec(
        reference=None
        if ref is None
        else ReferenceSpec(
            path=ref["path"],
            sha256=ref.get("sha256"),
            max_rows=int(ref.get("max_rows", 100_000)),
            max_bytes=int(ref.get("max_bytes", 64 * 1024 * 1024)),
        ),
        window=WindowSpec(
            requests=int(window.get("requests", 1000)),
            seconds=_optional(window.get("seconds")),
            slices=int(window.get("slices", 10)),
            min_rows=int(window.get("min_rows", 100)),
        ),
        watch=WatchSpec(
            inputs=tuple(watch["inputs"]) if "inputs" in watch else None,
            max_features=int(watch.get("max_features", 100)),
        ),
        thresholds=ThresholdSpec(
            psi_warn=float(thresholds.get("psi_warn", 0.1)),
            psi_alarm=float(thresholds.get("psi_alarm", 0.25)),
        ),
        alarms=AlarmSpec(
            p99_latency_ms=_optional(alarms.get("p99_latency_ms")),
            error_rate=_optional(alarms.get("error_rate")),
            throttles=bool(alarms.get("throttles", False)),
            drift=bool(alarms.get("drift", True)),
            cost_per_day=_optional(alarms.get("cost_per_day")),
        ),
        notification=NotificationSpec(
            sns_topic_arn=notification.get("sns_topic_arn"),
            channel=notification.get("channel"),
        ),
    )


def monitoring_spec(manifest: Manifest) -> MonitoringSpec | None:
    """The manifest's `monitoring:` section, or None without one."""
    raw = manifest.source.data.get("monitoring")
    return None if raw is None else spec_from_dict(raw)
