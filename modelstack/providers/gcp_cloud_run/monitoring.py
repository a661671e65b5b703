"""Monitoring on Cloud Run: a log-based metric of the runtime's drift lines, alert policies on
Cloud Run's request metrics and on drift, and a dashboard (`monitoring_resources`); and the
reader `modelstack monitor` uses (Cloud Monitoring `list_time_series`)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import InfrastructureError
from modelstack.providers.gcp_cloud_run.metrics import metric_service_client

if TYPE_CHECKING:
    import pulumi

    from modelstack.manifest.model import Manifest
    from modelstack.monitor.readings import Readings
    from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
    from modelstack.pulumi.spec import ServiceSpec

__all__ = [
    "CloudMonitoringMetrics",
    "alert_conditions",
    "drift_metric_name",
    "monitoring_resources",
]

REQUEST_COUNT: Final = "run.googleapis.com/request_count"
REQUEST_LATENCIES: Final = "run.googleapis.com/request_latencies"


def drift_metric_name(base: str) -> str:
    return f"{base}-drift-psi-max"


def _revision(service: str) -> str:
    return f'resource.type = "cloud_run_revision" AND resource.labels.service_name = "{service}"'


def alert_conditions(spec: ServiceSpec, service: str) -> list[tuple[str, dict[str, Any]]]:
    """(suffix, condition_threshold arguments) for each alarm of `monitoring.alarms`."""
    from modelstack.monitor.spec import monitoring_spec

    monitoring = monitoring_spec(spec.manifest)
    if monitoring is None:
        return []
    alarms = monitoring.alarms
    where = _revision(service)
    wanted: list[tuple[str, dict[str, Any]]] = []

    def aligned(aligner: str, period: int = 60) -> list[dict[str, Any]]:
        return [{"alignment_period": f"{period}s", "per_series_aligner": aligner}]

    if alarms.p99_latency_ms is not None:
        wanted.append(("p99-latency", {
            "filter": f'metric.type = "{REQUEST_LATENCIES}" AND {where}',
            "aggregations": aligned("ALIGN_PERCENTILE_99"), "comparison": "COMPARISON_GT",
            "threshold_value": alarms.p99_latency_ms, "duration": "180s"}))  # fmt: skip
    if alarms.error_rate is not None:
        wanted.append(("error-rate", {
            "filter": f'metric.type = "{REQUEST_COUNT}" AND {where} AND '
                      'metric.labels.response_code_class = "5xx"',
            "denominator_filter": f'metric.type = "{REQUEST_COUNT}" AND {where}',
            "aggregations": aligned("ALIGN_RATE"),
            "denominator_aggregations": aligned("ALIGN_RATE"),
            "comparison": "COMPARISON_GT", "threshold_value": alarms.error_rate,
            "duration": "300s"}))  # fmt: skip
    if alarms.throttles:
        wanted.append(("throttles", {
            "filter": f'metric.type = "{REQUEST_COUNT}" AND {where} AND '
                      'metric.labels.response_code = "429"',
            "aggregations": aligned("ALIGN_SUM"), "comparison": "COMPARISON_GT",
            "threshold_value": 0, "duration": "0s"}))  # fmt: skip
    if alarms.drift:
        metric = f"logging.googleapis.com/user/{drift_metric_name(spec.base)}"
        wanted.append(("drift", {
            "filter": f'metric.type = "{metric}" AND resource.type = "cloud_run_revision"',
            "aggregations": aligned("ALIGN_PERCENTILE_99", 300), "comparison": "COMPARISON_GT",
            "threshold_value": monitoring.thresholds.psi_alarm, "duration": "0s"}))  # fmt: skip
    return wanted


def _dashboard(service: str, drift_metric: str) -> str:
    def tile(title: str, metric_filter: str, aligner: str) -> dict[str, Any]:
        return {"title": title, "xyChart": {"dataSets": [{"timeSeriesQuery": {
            "timeSeriesFilter": {"filter": metric_filter, "aggregation": {
                "alignmentPeriod": "60s", "perSeriesAligner": aligner}}}}]}}  # fmt: skip

    where = _revision(service)
    widgets = [
        tile("Requests", f'metric.type = "{REQUEST_COUNT}" AND {where}', "ALIGN_RATE"),
        tile("p99 latency (ms)", f'metric.type = "{REQUEST_LATENCIES}" AND {where}',
             "ALIGN_PERCENTILE_99"),
        tile("Drift (highest PSI)", f'metric.type = "logging.googleapis.com/user/{drift_metric}"',
             "ALIGN_PERCENTILE_99"),
    ]  # fmt: skip
    return json.dumps(
        {"displayName": f"{service} (modelstack)", "gridLayout": {"widgets": widgets}},
        sort_keys=True,
    )


def monitoring_resources(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, service: str
) -> None:
    """The log-based drift metric, alert policies and a dashboard, with `monitoring:`."""
    import pulumi
    import pulumi_gcp as gcp

    from modelstack.monitor.spec import monitoring_spec

    monitoring = monitoring_spec(spec.manifest)
    if monitoring is None:
        return
    project = spec.target.project  # type: ignore[union-attr]
    child = pulumi.ResourceOptions(parent=parent)
    drift = drift_metric_name(spec.base)
    gcp.logging.Metric(
        f"{name}-drift-metric",
        name=drift,
        project=project,
        filter=f'{_revision(service)} AND jsonPayload.event = "drift"',
        value_extractor="EXTRACT(jsonPayload.drift_psi_max)",
        metric_descriptor={"metric_kind": "DELTA", "value_type": "DISTRIBUTION", "unit": "1"},
        bucket_options={"linear_buckets": {"num_finite_buckets": 20, "width": 0.05, "offset": 0}},
        opts=child,
    )
    channels = [monitoring.notification.channel] if monitoring.notification.channel else []
    for suffix, condition in alert_conditions(spec, service):
        gcp.monitoring.AlertPolicy(
            f"{name}-alert-{suffix}",
            display_name=f"{service} {suffix}",
            project=project,
            combiner="OR",
            conditions=[
                gcp.monitoring.AlertPolicyConditionArgs(
                    display_name=suffix,
                    condition_threshold=gcp.monitoring.AlertPolicyConditionConditionThresholdArgs(
                        **condition
                    ),
                )
            ],
            notification_channels=channels,
            opts=child,
        )
    gcp.monitoring.Dashboard(
        f"{name}-dashboard", project=project, dashboard_json=_dashboard(service, drift), opts=child
    )


class CloudMonitoringMetrics:
    """Reads a Cloud Run target's request metrics; `client` is a MetricServiceClient."""

    def __init__(self, target: CloudRunTarget, *, client: Any = None) -> None:
        self.target = target
        self._client = client

    def _monitoring(self) -> Any:
        if self._client is None:
            self._client = metric_service_client()
        return self._client

    def _series(self, metric_filter: str, aligner: str, seconds: int,
                group_by: list[str]) -> list[Any]:  # fmt: skip
        end = datetime.now(timezone.utc)
        request = {
            "name": f"projects/{self.target.project}",
            "filter": metric_filter,
            "interval": {"start_time": end - timedelta(seconds=seconds), "end_time": end},
            "aggregation": {"alignment_period": {"seconds": seconds}, "per_series_aligner": aligner,
                            "group_by_fields": group_by},
        }  # fmt: skip
        return list(self._monitoring().list_time_series(request=request))

    def read(self, manifest: Manifest, since_s: float) -> Readings:
        from modelstack.monitor.readings import Readings
        from modelstack.pulumi.naming import base_name, fit

        base = base_name(manifest, self.target.name)
        service = fit(base, 49)
        where = _revision(service)
        seconds = 60 * max(1, math.ceil(since_s / 60))
        try:
            counts = self._series(f'metric.type = "{REQUEST_COUNT}" AND {where}', "ALIGN_SUM",
                                  seconds, ["metric.labels.response_code"])  # fmt: skip
            latency = {
                q: self._series(f'metric.type = "{REQUEST_LATENCIES}" AND {where}',
                                f"ALIGN_PERCENTILE_{q}", seconds, [])
                for q in (50, 99)
            }  # fmt: skip
            drift = self._series(
                f'metric.type = "logging.googleapis.com/user/{drift_metric_name(base)}"',
                "ALIGN_PERCENTILE_99", seconds, [])  # fmt: skip
        except Exception as exc:
            raise InfrastructureError(
                f"Cloud Monitoring: cannot read the metrics of {service}: {exc}; the identity "
                "needs roles/monitoring.viewer"
            ) from None
        by_code: dict[str, int] = {}
        for series in counts:
            code = str(series.metric.labels.get("response_code", ""))
            by_code[code] = by_code.get(code, 0) + int(sum(_value(p) for p in series.points))
        total = sum(by_code.values())

        def first(series: list[Any]) -> float | None:
            points = [p for s in series for p in s.points]
            return float(_value(points[0])) if points else None

        highest = first(drift)
        return Readings(
            source=f"Cloud Monitoring {service} ({self.target.project})",
            requests=total,
            errors=sum(n for c, n in by_code.items() if c.startswith("5")),
            client_errors=sum(n for c, n in by_code.items() if c.startswith("4")),
            throttles=by_code.get("429", 0),
            p50_ms=first(latency[50]),
            p99_ms=first(latency[99]),
            drift={} if highest is None else {"highest of the window": highest},
        )


def _value(point: Any) -> float:
    value = point.value
    return value.int64_value or value.double_value or 0
