"""One trace across a routed request: an entry and its tier, both real runtime HTTP servers on
127.0.0.1, export their spans to one OTLP/HTTP receiver; the escalated hop is a `route` span."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from monitorkit import Client, receiver_fixture, runtime_config  # noqa: F401 (fixtures)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from modelstack_runtime import RuntimeServer
from modelstack_runtime.tracing import parse_traceparent

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{PARENT}-01"
SURE = np.array([[5.1, 3.5, 1.4, 0.2]])  # top score 5.7: the entry answers
UNSURE = np.zeros((1, 4))  # every score 0: escalated to the tier
ESCALATE = [
    {"to": "large", "output": "probabilities", "condition": "max_prob_below", "threshold": 0.5}
]


def _start(directory: Path, name: str, **config: Any) -> RuntimeServer:
    directory.mkdir()
    server = RuntimeServer(runtime_config(directory, model_name=name, **config))
    server.start()
    server.load()
    return server


def _spans(bodies: list[bytes]) -> dict[str, list[Span]]:
    """The exported spans by the service.name of their resource."""
    by_service: dict[str, list[Span]] = {}
    for body in bodies:
        for resource in ExportTraceServiceRequest.FromString(body).resource_spans:
            attributes = {a.key: a.value.string_value for a in resource.resource.attributes}
            spans = by_service.setdefault(attributes["service.name"], [])
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    return by_service


def _one(spans: list[Span], name: str) -> Span:
    (span,) = [s for s in spans if s.name == name]
    return span


def _start_cascade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> tuple[RuntimeServer, RuntimeServer]:
    """The large tier and the small entry escalating to it, both exporting to `endpoint`."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    tier = _start(tmp_path / "tier", "large")
    tiers = {"large": {"url": tier.url, "model_name": "large", "timeout_ms": 5000}}
    entry = _start(tmp_path / "entry", "small", routing={"tiers": tiers, "escalate": ESCALATE})
    return tier, entry


def test_an_escalated_request_is_one_trace_across_entry_and_tier(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = receiver
    tier, entry = _start_cascade(tmp_path, monkeypatch, endpoint)
    client = Client(entry.port)
    try:
        status, headers, body = client.infer(UNSURE, {"traceparent": HEADER}, model="small")
        assert status == 200 and json.loads(body)["parameters"]["escalated"] is True
        sure_status, _, sure_body = client.infer(SURE, {"traceparent": HEADER}, model="small")
        assert sure_status == 200 and json.loads(sure_body)["model_name"] == "small"
    finally:
        client.close()
        entry.stop(grace_s=5.0)  # each stop exports what is still batched
        tier.stop(grace_s=5.0)
    spans = _spans(bodies)
    assert set(spans) == {"small", "large"}
    assert all(s.trace_id.hex() == TRACE for s in spans["small"] + spans["large"])
    roots = [s for s in spans["small"] if s.name == "infer small"]
    assert len(roots) == 2 and all(r.parent_span_id.hex() == PARENT for r in roots)
    route = _one(spans["small"], "route large")  # only the escalated request made a hop
    (escalated,) = [r for r in roots if r.span_id == route.parent_span_id]
    assert route.kind == Span.SpanKind.SPAN_KIND_CLIENT
    attributes = {a.key: a.value for a in route.attributes}
    assert attributes["modelstack.routing.tier"].string_value == "large"
    assert attributes["http.response.status_code"].int_value == 200
    tier_root = _one(spans["large"], "infer large")
    assert tier_root.parent_span_id == route.span_id  # the tier received the route's context
    assert {s.name for s in spans["large"] if s.parent_span_id == tier_root.span_id} == {
        "decode",
        "infer",
        "encode",
    }
    answered = parse_traceparent(headers["traceparent"])
    assert answered is not None and answered.span_id == escalated.span_id.hex()


def test_a_request_without_trace_context_starts_one_the_tier_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = receiver
    tier, entry = _start_cascade(tmp_path, monkeypatch, endpoint)
    client = Client(entry.port)
    try:
        status, headers, _ = client.infer(UNSURE, model="small")
        assert status == 200
    finally:
        client.close()
        entry.stop(grace_s=5.0)
        tier.stop(grace_s=5.0)
    spans = _spans(bodies)
    root = _one(spans["small"], "infer small")
    assert root.parent_span_id == b""
    route = _one(spans["small"], "route large")
    tier_root = _one(spans["large"], "infer large")
    assert route.trace_id == root.trace_id == tier_root.trace_id
    assert tier_root.parent_span_id == route.span_id
    assert headers["traceparent"].split("-")[1] == root.trace_id.hex()
