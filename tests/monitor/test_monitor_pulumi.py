"""CloudWatch alarms on the runtime's EMF metrics and a dashboard, under Pulumi's mocks."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from example_copies import copy_example

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pulumi"))

from offline_deploy import ECR_IMAGE, GCP_IMAGE, deploy_offline

from modelstack.providers.aws_lambda.monitoring import EMF_NAMESPACE
from modelstack.pulumi.offline import RecordingMonitor, install_mocks

TOPIC = "arn:aws:sns:eu-west-1:123456789012:model-alarms"


@pytest.fixture(autouse=True)
def monitor() -> Iterator[RecordingMonitor]:
    yield install_mocks(project="modelstack-tests", stack="test")


def manifest_with(tmp_path: Path, monitoring: str) -> Path:
    folder = copy_example("iris", tmp_path / "iris")
    np.savez(folder / "reference.npz", float_input=np.ones((4, 4), dtype=np.float32))
    path = folder / "modelstack.yaml"
    path.write_text(path.read_text() + monitoring)
    return path


FULL = f"""
monitoring:
  reference: {{path: reference.npz}}
  thresholds: {{psi_alarm: 0.3}}
  alarms: {{p99_latency_ms: 150, error_rate: 0.02, throttles: true, cost_per_day: 5}}
  notification: {{sns_topic_arn: "{TOPIC}"}}
"""


def test_alarms_and_dashboard_on_the_emf_metrics(monitor: RecordingMonitor, tmp_path: Path) -> None:
    d = deploy_offline(monitor, manifest=manifest_with(tmp_path, FULL), image=ECR_IMAGE)
    alarms = {r.inputs["name"].rsplit("-model-", 1)[1]: r.inputs
              for r in d.of_type("cloudwatch/metricAlarm:MetricAlarm")
              if "-model-" in r.inputs["name"]}  # fmt: skip
    assert set(alarms) == {"p99-latency", "error-rate", "throttles", "drift", "cost-per-day"}
    p99 = alarms["p99-latency"]
    assert p99["namespace"] == EMF_NAMESPACE and p99["metricName"] == "latency_ms"
    assert p99["extendedStatistic"] == "p99" and p99["threshold"] == 150
    assert p99["dimensions"] == {"model": "iris"}
    rate = alarms["error-rate"]
    expression = [q for q in rate["metricQueries"] if "expression" in q]
    assert expression == [{"id": "rate", "expression": "errors / requests",
                           "label": "error rate", "returnData": True}]  # fmt: skip
    assert rate["threshold"] == 0.02
    assert alarms["drift"]["metricName"] == "drift_psi_max" and alarms["drift"]["threshold"] == 0.3
    cost = next(q for q in alarms["cost-per-day"]["metricQueries"] if "expression" in q)
    assert cost["expression"].startswith("requests * ")
    assert all(TOPIC in a["alarmActions"] for a in alarms.values())
    board = json.loads(d.one("cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    titles = [w["properties"]["title"] for w in board["widgets"]]
    assert titles == ["Requests and errors", "Latency (ms)", "Drift (highest PSI)"]
    assert all(len(w["properties"]["metrics"]) >= 1 for w in board["widgets"])


def test_without_monitoring_nothing_is_added(monitor: RecordingMonitor, tmp_path: Path) -> None:
    d = deploy_offline(monitor, manifest=manifest_with(tmp_path, ""), image=ECR_IMAGE)
    assert d.of_type("cloudwatch/dashboard:Dashboard") == []
    names = [r.inputs["name"] for r in d.of_type("cloudwatch/metricAlarm:MetricAlarm")]
    assert not any("-model-" in n for n in names)


def test_drift_alarm_only_by_default(monitor: RecordingMonitor, tmp_path: Path) -> None:
    text = "\nmonitoring:\n  reference: {path: reference.npz}\n"
    d = deploy_offline(monitor, manifest=manifest_with(tmp_path, text), image=ECR_IMAGE)
    names = [r.inputs["name"] for r in d.of_type("cloudwatch/metricAlarm:MetricAlarm")]
    assert [n for n in names if "-model-" in n] == ["iris-prod-model-drift"]


CHANNEL = "projects/my-project/notificationChannels/123"
GCP = f"""
monitoring:
  reference: {{path: reference.npz}}
  alarms: {{p99_latency_ms: 800, error_rate: 0.05, throttles: true}}
  notification: {{channel: "{CHANNEL}"}}
"""


def test_cloud_run_alert_policies_drift_metric_and_dashboard(
    monitor: RecordingMonitor, tmp_path: Path
) -> None:
    folder = copy_example("digits-gpu", tmp_path / "digits")
    np.savez(folder / "reference.npz", pixels=np.zeros((4, 64), dtype=np.float32))
    path = folder / "modelstack.yaml"
    path.write_text(path.read_text() + GCP)
    d = deploy_offline(monitor, manifest=path, image=GCP_IMAGE)
    service = d.one("cloudrunv2/service:Service").inputs["name"]
    policies = {r.inputs["displayName"]: r.inputs for r in d.of_type("AlertPolicy")}
    assert set(policies) == {f"{service} {s}" for s in
                             ("p99-latency", "error-rate", "throttles", "drift")}  # fmt: skip
    for policy in policies.values():
        assert policy["notificationChannels"] == [CHANNEL]
    p99 = policies[f"{service} p99-latency"]["conditions"][0]["conditionThreshold"]
    assert "run.googleapis.com/request_latencies" in p99["filter"]
    assert f'service_name = "{service}"' in p99["filter"] and p99["thresholdValue"] == 800
    rate = policies[f"{service} error-rate"]["conditions"][0]["conditionThreshold"]
    assert 'response_code_class = "5xx"' in rate["filter"]
    assert "5xx" not in rate["denominatorFilter"] and rate["thresholdValue"] == 0.05
    metric = d.one("logging/metric:Metric").inputs
    assert metric["valueExtractor"] == "EXTRACT(jsonPayload.drift_psi_max)"
    assert 'jsonPayload.event = "drift"' in metric["filter"]
    drift = policies[f"{service} drift"]["conditions"][0]["conditionThreshold"]
    assert metric["name"] in drift["filter"] and drift["thresholdValue"] == 0.25
    board = json.loads(d.one("monitoring/dashboard:Dashboard").inputs["dashboardJson"])
    assert [w["title"] for w in board["gridLayout"]["widgets"]] == [
        "Requests", "p99 latency (ms)", "Drift (highest PSI)",
    ]  # fmt: skip
