"""The error-rate readers against their platform APIs, and the rollout's decision on them.

CloudWatch is the real boto3 client against moto's server on 127.0.0.1. Cloud Monitoring
cannot be run here, so `FakeMetricServiceClient` stands at that boundary: it checks the
request the reader builds (the filter string, the interval, the grouping) and answers with
real `monitoring_v3.TimeSeries` objects.
"""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from example_copies import copy_example
from fake_automation import FakeAutomationStack
from google.cloud import monitoring_v3
from hypothesis import given
from hypothesis import strategies as st

from modelstack.deploy.cloud import PulumiEngine
from modelstack.deploy.metrics import (
    DEFAULT_MIN_REQUESTS,
    MIN_REQUESTS_ENV,
    ErrorRate,
    min_requests,
)
from modelstack.deploy.progress import Progress
from modelstack.deploy.release import Release
from modelstack.deploy.rollout import roll_out
from modelstack.deploy.state import StateStore
from modelstack.errors import InfrastructureError, SmokeTestError, UsageError
from modelstack.manifest import load_manifest
from modelstack.providers.aws_lambda.metrics import CloudWatchErrorRate
from modelstack.providers.gcp_cloud_run.metrics import REQUEST_COUNT, CloudMonitoringErrorRate
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime.now(timezone.utc).replace(microsecond=0)


class FakeMetricServiceClient:
    """Cloud Monitoring's `list_time_series`, answering for one service's revisions."""

    def __init__(self, project: str, service: str, counts: dict[str, dict[str, int]]) -> None:
        self.project = project
        self.service = service
        self.counts = counts  # revision -> response_code_class -> requests
        self.requests: list[monitoring_v3.ListTimeSeriesRequest] = []

    def list_time_series(self, *, request: monitoring_v3.ListTimeSeriesRequest) -> list[Any]:
        self.requests.append(request)
        assert request.name == f"projects/{self.project}"
        clauses = dict(
            (key.strip(), value.strip().strip('"'))
            for key, value in (c.split("=", 1) for c in request.filter.split(" AND "))
        )
        assert clauses["metric.type"] == REQUEST_COUNT
        assert clauses["resource.type"] == "cloud_run_revision"
        assert clauses["resource.labels.service_name"] == self.service
        assert request.interval.start_time < request.interval.end_time
        assert list(request.aggregation.group_by_fields) == ["metric.labels.response_code_class"]
        revision = clauses["resource.labels.revision_name"]
        return [
            monitoring_v3.TimeSeries(
                metric={"type": REQUEST_COUNT, "labels": {"response_code_class": code_class}},
                resource={"type": "cloud_run_revision", "labels": {"revision_name": revision}},
                points=[{"value": {"int64_value": count}}],
            )
            for code_class, count in self.counts.get(revision, {}).items()
        ]


def test_cloud_monitoring_counts_5xx_as_errors_and_4xx_as_the_clients() -> None:
    client = FakeMetricServiceClient("p", "svc", {"rev-2": {"2xx": 90, "4xx": 6, "5xx": 4}})
    reader = CloudMonitoringErrorRate("p", 20, client=client)
    reading = reader.read({"service": "svc", "revision": "rev-2"}, NOW - timedelta(minutes=2), NOW)
    assert (reading.requests, reading.errors, reading.rate) == (100, 4, 0.04)
    assert client.requests[0].interval.end_time.timestamp() == NOW.timestamp()
    quiet = reader.read({"service": "svc", "revision": "rev-3"}, NOW - timedelta(minutes=2), NOW)
    assert quiet.rate is None and "no signal (0 request(s)" in quiet.describe()


def test_a_cloud_monitoring_failure_names_the_permission() -> None:
    class Denied:
        def list_time_series(self, *, request: Any) -> Any:
            raise PermissionError("403 Permission monitoring.timeSeries.list denied")

    reader = CloudMonitoringErrorRate("p", 20, client=Denied())
    with pytest.raises(InfrastructureError, match=r"roles/monitoring\.viewer"):
        reader.read({"service": "s", "revision": "r"}, NOW - timedelta(minutes=1), NOW)


def test_cloudwatch_reads_only_the_candidates_executed_version(cloudwatch: Any) -> None:
    for version, invocations, errors in (("6", 500, 100), ("7", 40, 2)):
        dims = [
            {"Name": "FunctionName", "Value": "fn"},
            {"Name": "Resource", "Value": "fn:live"},
            {"Name": "ExecutedVersion", "Value": version},
        ]
        cloudwatch.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": m,
                    "Dimensions": dims,
                    "Timestamp": NOW - timedelta(seconds=90),
                    "Value": v,
                }
                for m, v in (("Invocations", invocations), ("Errors", errors))
            ],
        )
    reader = CloudWatchErrorRate("eu-west-1", 20, client=cloudwatch)
    reading = reader.read(
        {"function_name": "fn", "qualifier": "7"}, NOW - timedelta(minutes=3), NOW
    )
    assert (reading.requests, reading.errors, reading.rate) == (40, 2, 0.05)
    # Outside the interval nothing counts.
    earlier = reader.read(
        {"function_name": "fn", "qualifier": "7"},
        NOW - timedelta(minutes=10),
        NOW - timedelta(minutes=5),
    )
    assert earlier.requests == 0 and earlier.rate is None


@given(requests=st.integers(0, 10_000), errors=st.integers(0, 10_000), floor=st.integers(1, 500))
def test_an_error_rate_is_a_signal_only_from_the_minimum_on(
    requests: int, errors: int, floor: int
) -> None:
    errors = min(errors, requests)
    reading = ErrorRate("test", requests, errors, floor)
    if requests < floor:
        assert reading.rate is None and "no signal" in reading.describe()
    else:
        assert reading.rate == errors / requests and "no signal" not in reading.describe()


@given(st.text(max_size=12))
def test_the_minimum_requests_setting_is_a_positive_whole_number(raw: str) -> None:
    environ = {MIN_REQUESTS_ENV: raw}
    stripped = raw.strip()
    if not stripped:
        assert min_requests(environ) == DEFAULT_MIN_REQUESTS
    elif stripped.isdigit() and stripped.isascii() and int(stripped) >= 1:
        assert min_requests(environ) == int(stripped)
    else:
        with pytest.raises(UsageError, match=MIN_REQUESTS_ENV):
            min_requests(environ)


def test_a_cloud_run_step_over_max_error_rate_fails_and_rolls_back(tmp_path: Path) -> None:
    bundle = tmp_path / "digits"
    copy_example("digits-gpu", bundle)
    digits = load_manifest(bundle / "modelstack.yaml")
    target = next(n for n, t in digits.targets.items() if t.provider == "gcp-cloud-run")
    local = prepare_local(digits)
    client = InProcessClient(load_dataplane(local.config), digits.name)
    stack = FakeAutomationStack(digits, target)
    project = digits.targets[target].project
    monitoring = FakeMetricServiceClient(project, "", {})
    clock = [time.time()]
    engine = PulumiEngine(
        digits,
        target,
        stack,
        client_factory=lambda m, a: client,
        metrics=CloudMonitoringErrorRate(project, 20, client=monitoring),
        clock=lambda: clock[0],
    )

    def wait(seconds: float) -> None:
        clock[0] += seconds

    store = StateStore(bundle, target)
    out = io.StringIO()
    registry = "us-central1-docker.pkg.dev/vision-prod-4821/digits-gpu"
    first = Release("0", f"{registry}/digits@sha256:{'1' * 64}", "1", "m" * 64, "f" * 64)
    roll_out(engine, store, first, local.cases, digits.rollout, Progress(stream=out), sleep=wait)
    monitoring.service = stack.last_outputs["candidate_address"]["service"]
    second = Release("0", f"{registry}/digits@sha256:{'2' * 64}", "1", "m" * 64, "f" * 64)
    engine.deploy_candidate(second, store.load().stable)
    revision = stack.last_outputs["candidate_address"]["revision"]
    monitoring.counts[revision] = {"2xx": 97, "5xx": 3}  # 3% > the manifest's 1%

    with pytest.raises(SmokeTestError, match=r"failed 3\.0% of its requests"):
        roll_out(
            engine, store, second, local.cases, digits.rollout, Progress(stream=out), sleep=wait
        )
    percents = [u["candidate_percent"] for u in stack.updates[2:]]
    assert percents == ["25", "100"]  # the first step failed; traffic back on version 1
    assert stack.updates[-1]["image"] == first.image
    assert store.load().stable.image == first.image
