"""`modelstack monitor` against a real runtime on 127.0.0.1 (the local target's containers
stand in as one server with its routes table), and against CloudWatch through a Fake client."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from example_copies import copy_example
from hypothesis import given
from hypothesis import strategies as st
from monitorkit import Client
from sklearn.datasets import load_iris

from modelstack.cli import main
from modelstack.commands.monitor import parse_since
from modelstack.errors import UsageError
from modelstack.manifest import load_manifest
from modelstack.monitor.profile import with_reference_profile
from modelstack.monitor.readings import histogram_quantile, readings_from_text
from modelstack.providers.aws_lambda.monitoring import CloudWatchMetrics
from modelstack.providers.gcp_cloud_run.monitoring import CloudMonitoringMetrics
from modelstack.providers.local.routes import Revision, Routes, write_routes
from modelstack.smoke.local import prepare_local
from modelstack_runtime import RuntimeServer
from modelstack_runtime.metrics import RuntimeMetrics

IRIS = load_iris().data.astype(np.float32)
MONITORING = """
monitoring:
  reference: {path: reference.npz}
  window: {requests: 200, slices: 4, min_rows: 100}
  alarms: {error_rate: 0.5}
"""


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Path, Client]]:
    folder = copy_example("iris", tmp_path / "iris")
    np.savez(folder / "reference.npz", float_input=IRIS)
    manifest_path = folder / "modelstack.yaml"
    manifest_path.write_text(manifest_path.read_text() + MONITORING)
    manifest = load_manifest(manifest_path)
    bundle = prepare_local(manifest)
    config = with_reference_profile(manifest, bundle, bundle.config)
    server = RuntimeServer(dataclasses.replace(config, warmup=False))
    server.start()
    server.load()
    routes = Routes("http", "iris.local", 1, (Revision("1", 100, (f"127.0.0.1:{server.port}",)),))
    state = folder / ".modelstack" / "local" / "local"
    state.mkdir(parents=True)
    write_routes(state / "routes.json", routes)
    client = Client(server.port)
    yield manifest_path, client
    client.close()
    server.stop(grace_s=5.0)


def send(client: Client, rows: np.ndarray) -> None:
    for start in range(0, len(rows), 5):
        status, _, body = client.infer(rows[start : start + 5])
        assert status == 200, body


def run_monitor(manifest: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, Any]:
    code = main(["monitor", str(manifest), "--target", "local", "--format", "json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_stable_traffic_passes_and_a_shift_fails_naming_the_feature(
    deployed: tuple[Path, Client], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest, client = deployed
    rng = np.random.default_rng(3)
    send(client, IRIS[rng.integers(0, len(IRIS), 500)])
    code, report = run_monitor(manifest, capsys)
    assert code == 0, report
    assert report["requests"] == 100 and report["errors"] == 0
    assert 0 < report["p50_ms"] <= report["p99_ms"]
    assert all(row["band"] == "ok" for row in report["drift"])
    shifted = IRIS[rng.integers(0, len(IRIS), 1000)].copy()
    shifted[:, 3] += 2.5  # petal width
    send(client, shifted)
    page = tmp_path / "report.html"
    code, report = run_monitor(manifest, capsys, "--html", str(page))
    assert code == 1
    alarms = [row["name"] for row in report["drift"] if row["band"] == "alarm"]
    assert "float_input[3]" in alarms
    assert not any(row["name"].startswith("float_input[") and row["name"] != "float_input[3]"
                   and row["band"] != "ok" for row in report["drift"])  # fmt: skip
    assert any("float_input[3]" in breach for breach in report["breaches"])
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "float_input[3]" in html
    assert "<script" not in html and "src=" not in html and "href=" not in html


def test_text_output_and_an_error_rate_alarm(
    deployed: tuple[Path, Client], capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, client = deployed
    for _ in range(3):  # 4xx answers are the client's, not errors
        client.request("POST", "/v2/models/iris/infer", b"{", {"Content-Type": "application/json"})
    assert main(["monitor", str(manifest), "--target", "local"]) == 0
    text = capsys.readouterr().out
    assert "requests 3" in text and "client errors 3" in text and "error rate 0.00%" in text


def test_a_target_that_serves_nothing_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = copy_example("iris", tmp_path / "iris")
    assert main(["monitor", str(folder / "modelstack.yaml"), "--target", "local"]) == 2
    assert "serves nothing yet; run `modelstack up" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("15m", 900), ("24h", 86400),
                                               ("7d", 604800)])  # fmt: skip
def test_since(text: str, seconds: float) -> None:
    assert parse_since(text) == seconds


@given(st.text(max_size=12))
def test_since_never_raises_anything_but_a_usage_error(text: str) -> None:
    try:
        assert 0 < parse_since(text) <= 15 * 86400
    except UsageError as exc:
        assert "--since" in str(exc)


@given(st.lists(st.floats(0.00001, 20.0), min_size=1, max_size=50))
def test_our_exposition_reads_back(latencies: list[float]) -> None:
    metrics = RuntimeMetrics("iris", "3")
    for seconds in latencies:
        metrics.started()
        metrics.observe(500 if seconds > 10 else 200, seconds, None, 100, 10)
    readings = readings_from_text(metrics.exposition().decode(), "test")
    assert readings.requests == len(latencies)
    assert readings.errors == sum(1 for s in latencies if s > 10)
    assert readings.request_bytes == 100 * len(latencies)
    assert readings.p50_ms is not None and readings.p99_ms is not None
    assert readings.p50_ms <= readings.p99_ms <= 10_000.0


def test_histogram_quantile_interpolates_inside_a_bucket() -> None:
    buckets = ((1.0, 0), (2.0, 10), (4.0, 10), (float("inf"), 0))
    assert histogram_quantile(0.5, buckets) == 2.0
    assert histogram_quantile(0.75, buckets) == 3.0
    assert histogram_quantile(0.5, ((1.0, 0),)) is None
    assert histogram_quantile(0.99, ((1.0, 1), (float("inf"), 5))) == 1.0


class FakeCloudWatch:
    """A fake boto3 CloudWatch client: answers list_metrics and get_metric_data from a table."""

    def __init__(self, values: dict[str, list[float]]) -> None:
        self.values = values
        self.queries: list[dict[str, Any]] = []

    def list_metrics(self, Namespace: str, Dimensions: list[dict[str, str]]) -> dict[str, Any]:
        return {
            "Metrics": [
                {"MetricName": n} for n in ("latency_ms", "drift_psi_a", "output_psi_label")
            ]
        }

    def get_metric_data(self, **kwargs: Any) -> dict[str, Any]:
        self.queries = kwargs["MetricDataQueries"]
        assert kwargs["ScanBy"] == "TimestampDescending"
        results = []
        for query in self.queries:
            stat = query["MetricStat"]
            key = f"{stat['Metric']['MetricName']}:{stat['Stat']}"
            results.append({"Id": query["Id"], "Values": self.values.get(key, [])})
        return {"MetricDataResults": results}


def test_cloudwatch_readings(tmp_path: Path) -> None:
    folder = copy_example("iris", tmp_path / "iris")
    manifest = load_manifest(folder / "modelstack.yaml")
    fake = FakeCloudWatch({
        "latency_ms:SampleCount": [60.0, 40.0], "latency_ms:p50": [3.0], "latency_ms:p99": [9.5],
        "errors:Sum": [2.0, 3.0], "client_errors:Sum": [1.0], "Throttles:Sum": [4.0],
        "request_bytes:Sum": [5000.0], "drift_psi_a:Maximum": [0.3, 0.01],
        "output_psi_label:Maximum": [0.05],
    })  # fmt: skip
    target = manifest.targets["prod"]
    readings = CloudWatchMetrics(target, client=fake).read(manifest, 3600)  # type: ignore[arg-type]
    assert readings.requests == 100 and readings.errors == 5 and readings.throttles == 4
    assert readings.p50_ms == 3.0 and readings.p99_ms == 9.5 and readings.error_rate == 0.05
    assert readings.drift == {"a": 0.3} and readings.output_drift == {"label": 0.05}
    ids = [q["Id"] for q in fake.queries]
    assert len(ids) == len(set(ids)) and all(i[0].islower() and i.isidentifier() for i in ids)
    assert {q["MetricStat"]["Period"] for q in fake.queries if q["Id"] == "requests"} == {3600}


class FakeMetricServiceClient:
    """A fake Cloud Monitoring client: time series by metric type in the filter."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    @staticmethod
    def _series(labels: dict[str, str], value: float) -> Any:
        point = SimpleNamespace(value=SimpleNamespace(int64_value=0, double_value=value))
        return SimpleNamespace(metric=SimpleNamespace(labels=labels), points=[point])

    def list_time_series(self, request: dict[str, Any]) -> list[Any]:
        self.requests.append(request)
        metric_filter = request["filter"]
        aligner = request["aggregation"]["per_series_aligner"]
        if "request_count" in metric_filter:
            return [self._series({"response_code": code}, n)
                    for code, n in (("200", 90), ("503", 6), ("429", 2), ("400", 2))]  # fmt: skip
        if "request_latencies" in metric_filter:
            return [self._series({}, 12.0 if aligner.endswith("_50") else 80.0)]
        return [self._series({}, 0.4)]  # the drift metric's highest PSI


def test_cloud_monitoring_readings(tmp_path: Path) -> None:
    folder = copy_example("digits-gpu", tmp_path / "digits")
    manifest = load_manifest(folder / "modelstack.yaml")
    fake = FakeMetricServiceClient()
    target = manifest.targets["gpu"]
    readings = CloudMonitoringMetrics(target, client=fake).read(manifest, 1800)  # type: ignore[arg-type]
    assert readings.requests == 100 and readings.errors == 6 and readings.client_errors == 4
    assert readings.throttles == 2 and readings.p50_ms == 12.0 and readings.p99_ms == 80.0
    assert readings.drift == {"highest of the window": 0.4}
    assert all(r["name"] == "projects/" + target.project for r in fake.requests)  # type: ignore[attr-defined]
    assert {r["aggregation"]["alignment_period"]["seconds"] for r in fake.requests} == {1800}
