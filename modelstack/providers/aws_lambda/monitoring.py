"""Monitoring on AWS Lambda: `modelstack monitor` reads the runtime's EMF metrics from
CloudWatch (one `get_metric_data` call, the drift metrics found with `list_metrics`), and the
Pulumi program creates CloudWatch alarms on them and a dashboard (`monitoring_resources`)."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import InfrastructureError, MissingDependencyError

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest
    from modelstack.monitor.readings import Readings
    from modelstack.providers.aws_lambda.target import AwsLambdaTarget

__all__ = ["EMF_NAMESPACE", "CloudWatchMetrics", "metric_data_queries"]

EMF_NAMESPACE: Final = os.environ.get("MODELSTACK_EMF_NAMESPACE", "modelstack")
"""The runtime's EMF namespace (its `MODELSTACK_EMF_NAMESPACE`, default modelstack)."""
PERIOD_S: Final = 60
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
            try:
                import boto3
            except ImportError:
                raise MissingDependencyError("reading CloudWatch metrics", "aws") from None
            self._client = boto3.client("cloudwatch", region_name=self.target.region)
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
                if m["MetricName"].startswith(_DRIFT_PREFIXES)
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
