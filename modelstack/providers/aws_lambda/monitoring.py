"""Monitoring on AWS Lambda: `modelstack monitor` reads the runtime's EMF metrics from
CloudWatch (one `get_metric_data` call, the drift metrics found with `list_metrics`), and the
Pulumi program creates CloudWatch alarms on them and a dashboard (`monitoring_resources`)."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import InfrastructureError
from modelstack.providers.aws_lambda.metrics import cloudwatch_client

if TYPE_CHECKING:
    import pulumi

    from modelstack.manifest.model import Manifest
    from modelstack.monitor.readings import Readings
    from modelstack.providers.aws_lambda.target import AwsLambdaTarget
    from modelstack.pulumi.spec import ServiceSpec

__all__ = ["EMF_NAMESPACE", "CloudWatchMetrics", "metric_data_queries"]

EMF_NAMESPACE: Final = os.environ.get("MODELSTACK_EMF_NAMESPACE", "modelstack")
"""The runtime's EMF namespace (its `MODELSTACK_EMF_NAMESPACE`, default modelstack)."""
PERIOD_S: Final = 60
DRIFT_MAX: Final = "drift_psi_max"
"""The highest PSI of a window's features: what the drift alarm watches."""
_DRIFT_PREFIXES: Final = ("drift_psi_", "output_psi_")
_MAX_DRIFT_METRICS: Final = 400  # get_metric_data takes 500 queries; 7 are the totals


def _stat(query_id: str, metric: str, stat: str, dimensions: list[dict[str, str]],
          period: int, namespace: str = EMF_NAMESPACE) -> dict[str, Any]:  # fmt: skip
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": True,
    }


def metric_data_queries(
    model: str, function_name: str, period: int, drift_metrics: list[str]
) -> list[dict[str, Any]]:
    """The queries: totals over the whole period, and each drift metric's latest value."""
    dims = [{"Name": "model", "Value": model}]
    queries = [
        _stat("requests", "latency_ms", "SampleCount", dims, period),
        _stat("p50", "latency_ms", "p50", dims, period),
        _stat("p99", "latency_ms", "p99", dims, period),
        _stat("errors", "errors", "Sum", dims, period),
        _stat("client_errors", "client_errors", "Sum", dims, period),
        _stat("request_bytes", "request_bytes", "Sum", dims, period),
        _stat("throttles", "Throttles", "Sum",
              [{"Name": "FunctionName", "Value": function_name}], period, "AWS/Lambda"),
    ]  # fmt: skip
    for i, name in enumerate(drift_metrics[:_MAX_DRIFT_METRICS]):
        query = _stat(f"d{i}", name, "Maximum", dims, PERIOD_S)
        query["Label"] = name
        queries.append(query)
    return queries


class CloudWatchMetrics:
    """Reads a Lambda target's EMF metrics; `client` is a boto3 CloudWatch client."""

    def __init__(self, target: AwsLambdaTarget, *, client: Any = None) -> None:
        self.target = target
        self._client = client

    def _cloudwatch(self) -> Any:
        if self._client is None:
            self._client = cloudwatch_client(self.target.region)
        return self._client

    def read(self, manifest: Manifest, since_s: float) -> Readings:
        from modelstack.monitor.readings import Readings
        from modelstack.pulumi.naming import base_name

        function_name = base_name(manifest, self.target.name)
        end = datetime.now(timezone.utc)
        period = PERIOD_S * max(1, math.ceil(since_s / PERIOD_S))
        client = self._cloudwatch()
        try:
            listed = client.list_metrics(
                Namespace=EMF_NAMESPACE, Dimensions=[{"Name": "model", "Value": manifest.name}]
            )
            drift_names = sorted(
                m["MetricName"] for m in listed.get("Metrics", [])
                if m["MetricName"].startswith(_DRIFT_PREFIXES) and m["MetricName"] != DRIFT_MAX
            )  # fmt: skip
            response = client.get_metric_data(
                MetricDataQueries=metric_data_queries(
                    manifest.name, function_name, period, drift_names
                ),
                StartTime=end - timedelta(seconds=period),
                EndTime=end,
                ScanBy="TimestampDescending",
            )
        except Exception as exc:
            raise InfrastructureError(
                f"CloudWatch: cannot read the metrics of {manifest.name}: {exc}; the identity "
                "needs cloudwatch:ListMetrics and cloudwatch:GetMetricData"
            ) from None
        results = {r["Id"]: r for r in response.get("MetricDataResults", [])}

        def total(query_id: str) -> float:
            return float(sum(results.get(query_id, {}).get("Values", [])))

        def latest(query_id: str) -> float | None:
            values = results.get(query_id, {}).get("Values", [])
            return float(values[0]) if values else None

        drift: dict[str, float] = {}
        outputs: dict[str, float] = {}
        for i, name in enumerate(drift_names[:_MAX_DRIFT_METRICS]):
            value = latest(f"d{i}")
            if value is None:
                continue
            if name.startswith("drift_psi_"):
                drift[name.removeprefix("drift_psi_")] = value
            else:
                outputs[name.removeprefix("output_psi_")] = value
        return Readings(
            source=f"CloudWatch {EMF_NAMESPACE} model={manifest.name} ({self.target.region})",
            requests=int(total("requests")),
            errors=int(total("errors")),
            client_errors=int(total("client_errors")),
            throttles=int(total("throttles")),
            request_bytes=int(total("request_bytes")),
            p50_ms=latest("p50"),
            p99_ms=latest("p99"),
            drift=drift,
            output_drift=outputs,
        )


# --- Pulumi: alarms on the EMF metrics and a dashboard -------------------------------------


def _cost_expression(spec: ServiceSpec) -> str | None:
    """Metric math for a day's cost: requests and GB-seconds at the shipped prices."""
    from modelstack.errors import CostError
    from modelstack.providers.aws_lambda.pricing import lambda_prices
    from modelstack.providers.aws_lambda.target import AwsLambdaTarget

    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    try:
        prices = lambda_prices(target.region)
        request = prices.price("request")
        gb_second = prices.price(f"duration_{target.architecture}")
    except CostError:
        return None  # no price table for the region: no cost alarm (plan says so)
    gb = (spec.memory_mb or target.memory_mb) / 1024.0
    return f"requests * {request!r} + latency_sum / 1000 * {gb!r} * {gb_second!r}"


def _metric(metric_id: str, name: str, stat: str, model: str, period: int) -> dict[str, Any]:
    return {
        "id": metric_id,
        "return_data": False,
        "metric": {
            "namespace": EMF_NAMESPACE,
            "metric_name": name,
            "dimensions": {"model": model},
            "period": period,
            "stat": stat,
        },
    }


def monitoring_alarms(spec: ServiceSpec, function_name: Any) -> list[tuple[str, dict[str, Any]]]:
    """(suffix, MetricAlarm arguments) for each alarm the manifest's monitoring: asks for."""
    from modelstack.monitor.spec import monitoring_spec

    monitoring = monitoring_spec(spec.manifest)
    if monitoring is None:
        return []
    model = spec.manifest.name
    alarms = monitoring.alarms
    emf = {"namespace": EMF_NAMESPACE, "dimensions": {"model": model}, "period": 60}
    wanted: list[tuple[str, dict[str, Any]]] = []
    if alarms.p99_latency_ms is not None:
        wanted.append(("model-p99-latency", {**emf, "metric_name": "latency_ms",
            "extended_statistic": "p99", "threshold": alarms.p99_latency_ms,
            "evaluation_periods": 3, "datapoints_to_alarm": 3}))  # fmt: skip
    if alarms.error_rate is not None:
        wanted.append(("model-error-rate", {"threshold": alarms.error_rate, "evaluation_periods": 5,
            "datapoints_to_alarm": 3, "metric_queries": [
                _metric("errors", "errors", "Sum", model, 60),
                _metric("requests", "latency_ms", "SampleCount", model, 60),
                {"id": "rate", "expression": "errors / requests", "label": "error rate",
                 "return_data": True}]}))  # fmt: skip
    if alarms.throttles:
        wanted.append(("model-throttles", {"namespace": "AWS/Lambda", "metric_name": "Throttles",
            "dimensions": {"FunctionName": function_name}, "statistic": "Sum", "period": 60,
            "threshold": 1}))  # fmt: skip
    if alarms.drift:
        wanted.append(("model-drift", {**emf, "metric_name": DRIFT_MAX,
            "statistic": "Maximum", "period": 300,
            "threshold": monitoring.thresholds.psi_alarm}))  # fmt: skip
    cost = _cost_expression(spec) if alarms.cost_per_day is not None else None
    if cost is not None:
        wanted.append(("model-cost-per-day", {"threshold": alarms.cost_per_day,
            "metric_queries": [
                _metric("requests", "latency_ms", "SampleCount", model, 86400),
                _metric("latency_sum", "latency_ms", "Sum", model, 86400),
                {"id": "cost", "expression": cost, "label": "USD per day",
                 "return_data": True}]}))  # fmt: skip
    return wanted


def dashboard_body(model: str, region: str, psi_alarm: float) -> str:
    """The CloudWatch dashboard: requests and errors, latency, drift."""
    import json

    def widget(title: str, metrics: list[list[Any]], y: int, **extra: Any) -> dict[str, Any]:
        return {"type": "metric", "x": 0, "y": y, "width": 24, "height": 6,
                "properties": {"title": title, "region": region, "metrics": metrics,
                               "period": 60, "view": "timeSeries", **extra}}  # fmt: skip

    dims = ["model", model]
    widgets = [
        widget("Requests and errors", [
            [EMF_NAMESPACE, "latency_ms", *dims, {"stat": "SampleCount", "label": "requests"}],
            [EMF_NAMESPACE, "errors", *dims, {"stat": "Sum"}],
            [EMF_NAMESPACE, "client_errors", *dims, {"stat": "Sum"}]], 0),
        widget("Latency (ms)", [
            [EMF_NAMESPACE, "latency_ms", *dims, {"stat": "p50"}],
            [EMF_NAMESPACE, "latency_ms", *dims, {"stat": "p99"}],
            [EMF_NAMESPACE, "inference_ms", *dims, {"stat": "p50"}]], 6),
        widget("Drift (highest PSI)", [
            [EMF_NAMESPACE, "drift_psi_max", *dims, {"stat": "Maximum"}]], 12,
            annotations={"horizontal": [{"value": psi_alarm, "label": "alarm"}]}),
    ]  # fmt: skip
    return json.dumps({"widgets": widgets}, sort_keys=True)


def monitoring_resources(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, function_name: Any, tags: dict[str, str]
) -> None:
    """CloudWatch alarms on the runtime's EMF metrics and a dashboard, with `monitoring:`."""
    import pulumi
    import pulumi_aws as aws

    from modelstack.monitor.spec import monitoring_spec
    from modelstack.pulumi.naming import fit

    monitoring = monitoring_spec(spec.manifest)
    if monitoring is None:
        return
    target = spec.target
    actions = list(spec.alarm_actions)
    if monitoring.notification.sns_topic_arn is not None:
        actions.append(monitoring.notification.sns_topic_arn)
    child = pulumi.ResourceOptions(parent=parent)
    for suffix, metric in monitoring_alarms(spec, function_name):
        aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{suffix}",
            name=fit(f"{spec.base}-{suffix}", 255),
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            region=target.region,
            tags=tags,
            opts=child,
            **{"evaluation_periods": 1, **metric},
        )
    aws.cloudwatch.Dashboard(
        f"{name}-dashboard",
        dashboard_name=fit(spec.base, 255),
        dashboard_body=dashboard_body(
            spec.manifest.name, target.region, monitoring.thresholds.psi_alarm
        ),
        region=target.region,
        opts=child,
    )
