"""The error rate of a Cloud Run revision from Cloud Monitoring:
`run.googleapis.com/request_count` of the revision over the traffic step's interval, summed
per `response_code_class`; `5xx` answers are the revision's errors (a 4xx is the client's)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from modelstack.deploy.metrics import ErrorRate
from modelstack.errors import InfrastructureError, MissingDependencyError

__all__ = ["REQUEST_COUNT", "CloudMonitoringErrorRate", "request_filter"]

REQUEST_COUNT = "run.googleapis.com/request_count"
ERROR_CLASS = "5xx"


def request_filter(service: str, revision: str) -> str:
    """The Monitoring filter selecting one revision's request counts."""
    return (
        f'metric.type = "{REQUEST_COUNT}" AND resource.type = "cloud_run_revision" '
        f'AND resource.labels.service_name = "{service}" '
        f'AND resource.labels.revision_name = "{revision}"'
    )


def _point_count(point: Any) -> int:
    value = point.value
    return int(value.int64_value or value.double_value or 0)


def metric_service_client() -> Any:
    """A Cloud Monitoring MetricServiceClient (google-cloud-monitoring: the `gcp` extra)."""
    try:
        from google.cloud import monitoring_v3
    except ImportError:
        raise MissingDependencyError("reading Cloud Monitoring metrics", "gcp") from None
    return monitoring_v3.MetricServiceClient()


class CloudMonitoringErrorRate:
    """Reads a Cloud Run candidate's error rate; `client` is a MetricServiceClient."""

    def __init__(self, project: str, min_requests: int, *, client: Any = None) -> None:
        self.project = project
        self.min_requests = min_requests
        self._client = client

    def _monitoring(self) -> Any:
        if self._client is None:
            self._client = metric_service_client()
        return self._client

    def _request(self, service: str, revision: str, start: datetime, end: datetime) -> Any:
        from google.cloud import monitoring_v3

        seconds = max(int((end - start).total_seconds()), 60)
        return monitoring_v3.ListTimeSeriesRequest(
            name=f"projects/{self.project}",
            filter=request_filter(service, revision),
            interval=monitoring_v3.TimeInterval(start_time=start, end_time=end),
            aggregation=monitoring_v3.Aggregation(
                alignment_period={"seconds": seconds},
                per_series_aligner=monitoring_v3.Aggregation.Aligner.ALIGN_SUM,
                cross_series_reducer=monitoring_v3.Aggregation.Reducer.REDUCE_SUM,
                group_by_fields=["metric.labels.response_code_class"],
            ),
            view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        )

    def read(self, address: Mapping[str, Any], start: datetime, end: datetime) -> ErrorRate:
        service, revision = str(address["service"]), str(address["revision"])
        client = self._monitoring()
        try:
            series = list(
                client.list_time_series(request=self._request(service, revision, start, end))
            )
        except Exception as exc:
            raise InfrastructureError(
                f"Cloud Monitoring: cannot read the request counts of revision {revision}: "
                f"{exc}; the deploying identity needs roles/monitoring.viewer"
            ) from None
        requests = errors = 0
        for one in series:
            count = sum(_point_count(p) for p in one.points)
            requests += count
            if one.metric.labels.get("response_code_class") == ERROR_CLASS:
                errors += count
        return ErrorRate(
            source=f"Cloud Monitoring {REQUEST_COUNT} revision {revision}",
            requests=requests,
            errors=errors,
            min_requests=self.min_requests,
        )
