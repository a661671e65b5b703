"""The error rate of a Lambda version from CloudWatch: `Errors` and `Invocations` (Sum) in
`AWS/Lambda` for the function's `live` alias and the candidate's `ExecutedVersion`, over the
traffic step's interval (at least the last minute: CloudWatch keeps Lambda metrics by the
minute), with one `get_metric_data` call."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from modelstack.deploy.metrics import ErrorRate
from modelstack.errors import InfrastructureError, MissingDependencyError
from modelstack.pulumi.naming import LAMBDA_ALIAS

__all__ = ["CloudWatchErrorRate", "metric_queries"]

PERIOD_S = 60
"""CloudWatch keeps Lambda metrics at one-minute resolution."""


def metric_queries(function_name: str, version: str, period_s: int) -> list[dict[str, Any]]:
    """The two MetricDataQueries: errors and invocations of `version` behind the alias."""
    dimensions = [
        {"Name": "FunctionName", "Value": function_name},
        {"Name": "Resource", "Value": f"{function_name}:{LAMBDA_ALIAS}"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    return [
        {
            "Id": query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": dimensions,
                },
                "Period": period_s,
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for query_id, metric in (("errors", "Errors"), ("invocations", "Invocations"))
    ]


def cloudwatch_client(region: str) -> Any:
    """A boto3 CloudWatch client for `region` (boto3 comes with the `aws` extra)."""
    try:
        import boto3
    except ImportError:
        raise MissingDependencyError("reading CloudWatch metrics", "aws") from None
    return boto3.client("cloudwatch", region_name=region)


class CloudWatchErrorRate:
    """Reads a Lambda candidate's error rate; `client` is a boto3 CloudWatch client."""

    def __init__(self, region: str, min_requests: int, *, client: Any = None) -> None:
        self.region = region
        self.min_requests = min_requests
        self._client = client

    def _cloudwatch(self) -> Any:
        if self._client is None:
            self._client = cloudwatch_client(self.region)
        return self._client

    def read(self, address: Mapping[str, Any], start: datetime, end: datetime) -> ErrorRate:
        function_name, version = str(address["function_name"]), str(address["qualifier"])
        # Lambda's metrics have one-minute resolution: a shorter step reads the last minute.
        start = min(start, end - timedelta(seconds=PERIOD_S))
        period = PERIOD_S * math.ceil((end - start).total_seconds() / PERIOD_S)
        try:
            response = self._cloudwatch().get_metric_data(
                MetricDataQueries=metric_queries(function_name, version, period),
                StartTime=end - timedelta(seconds=period),
                EndTime=end,
            )
        except Exception as exc:
            raise InfrastructureError(
                f"CloudWatch: cannot read the metrics of {function_name}:{version}: {exc}; the "
                "deploying identity needs cloudwatch:GetMetricData"
            ) from None
        sums = {r["Id"]: sum(r.get("Values", [])) for r in response.get("MetricDataResults", [])}
        return ErrorRate(
            source=f"CloudWatch AWS/Lambda {function_name} version {version}",
            requests=int(sums.get("invocations", 0)),
            errors=int(sums.get("errors", 0)),
            min_requests=self.min_requests,
        )
