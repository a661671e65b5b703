"""GET /metrics in the Prometheus text format, read back with prometheus_client's parser."""

from __future__ import annotations

import json

import numpy as np
import pytest
from monitorkit import Client, client_fixture, server_fixture  # noqa: F401 (fixtures)
from prometheus_client.parser import text_string_to_metric_families

from modelstack_runtime import RuntimeServer
from modelstack_runtime.lambda_handler import LambdaAdapter
from modelstack_runtime.metrics import (
    EMF_MAX_DIMENSIONS,
    EMF_MAX_METRICS,
    LATENCY_BUCKETS_S,
    RuntimeMetrics,
    emf_directives,
    emf_line,
)

X = np.array([[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]])


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted({"model": "iris", "version": "3", **labels}.items())))
    return found[key]


def test_counts_by_outcome_bytes_and_histograms(client: Client) -> None:
    for _ in range(3):
        status, _, _ = client.infer(X)
        assert status == 200
    status, _, _ = client.infer(X, model="other")  # unknown model: a client error
    assert status == 404
    status, _, _ = client.request(
        "POST", "/v2/models/iris/infer", b"{not json", {"Content-Type": "application/json"}
    )
    assert status == 400
    found = samples(client.metrics())
    assert value(found, "modelstack_requests_total", outcome="ok") == 3
    assert value(found, "modelstack_requests_total", outcome="client_error") == 2
    assert value(found, "modelstack_requests_total", outcome="error") == 0
    body = len(json.dumps({"inputs": [{"name": "float_input"}]}))  # a lower bound
    assert value(found, "modelstack_request_bytes_total", outcome="ok") > 3 * body
    assert value(found, "modelstack_response_bytes_total", outcome="ok") > 0
    assert value(found, "modelstack_response_bytes_total", outcome="client_error") == 0
    total = "modelstack_request_duration_seconds"
    assert value(found, f"{total}_count", outcome="ok") == 3
    assert value(found, f"{total}_bucket", outcome="ok", le="+Inf") == 3
    assert value(found, f"{total}_sum", outcome="ok") > 0
    inference = "modelstack_inference_duration_seconds"
    assert value(found, f"{inference}_count", outcome="ok") == 3
    assert value(found, f"{inference}_count", outcome="client_error") == 0  # never ran
    assert value(found, f"{inference}_sum", outcome="ok") <= value(
        found, f"{total}_sum", outcome="ok"
    )
    assert value(found, "modelstack_in_flight") == 0


def test_buckets_are_cumulative_and_a_series_per_bound() -> None:
    metrics = RuntimeMetrics("iris", "3")
    for seconds in (0.0001, 0.003, 0.003, 20.0):
        metrics.started()
        metrics.observe(200, seconds, seconds / 2, 10, 20)
    found = samples(metrics.exposition().decode())
    name = "modelstack_request_duration_seconds_bucket"
    assert value(found, name, outcome="ok", le="0.0005") == 1
    assert value(found, name, outcome="ok", le="0.0025") == 1
    assert value(found, name, outcome="ok", le="0.005") == 3
    assert value(found, name, outcome="ok", le="10.0") == 3
    assert value(found, name, outcome="ok", le="+Inf") == 4
    bounds = [k for k in found if k[0] == name and ("outcome", "ok") in k[1]]
    assert len(bounds) == len(LATENCY_BUCKETS_S) + 1


def test_label_values_are_quoted() -> None:
    metrics = RuntimeMetrics('we"ird\\name', "1\n2")
    found = samples(metrics.exposition().decode())
    assert ("modelstack_in_flight", (("model", 'we"ird\\name'), ("version", "1\n2"))) in found


def test_metrics_through_the_lambda_proxy(server: RuntimeServer) -> None:
    adapter = LambdaAdapter(server.dataplane)
    reply = adapter({"rawPath": "/metrics", "requestContext": {"http": {"method": "GET"}}})
    assert reply["statusCode"] == 200 and not reply["isBase64Encoded"]
    assert "modelstack_requests_total" in reply["body"]


def test_emf_directives_stay_within_limits() -> None:
    metrics = [(f"m{i}", "Count") for i in range(250)]
    directives = emf_directives("ns", ["model"], metrics)
    assert [len(d["Metrics"]) for d in directives] == [EMF_MAX_METRICS, EMF_MAX_METRICS, 50]
    assert [m["Name"] for d in directives for m in d["Metrics"]] == [n for n, _ in metrics]
    with pytest.raises(ValueError, match="30 dimensions"):
        emf_directives("ns", [f"d{i}" for i in range(EMF_MAX_DIMENSIONS + 1)], metrics)


def test_emf_line_names_only_members_it_has() -> None:
    values = {f"drift_psi_f{i}": i / 100 for i in range(120)}
    document = json.loads(emf_line("ns", "iris", 1700000000000, values))
    names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert sorted(names) == sorted(values)
    assert all(len(d["Metrics"]) <= EMF_MAX_METRICS for d in document["_aws"]["CloudWatchMetrics"])
    assert all(document[name] == v for name, v in values.items())
    assert document["model"] == "iris"
