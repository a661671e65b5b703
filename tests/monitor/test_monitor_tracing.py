"""W3C traceparent parsing and propagation, and spans exported over OTLP/HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from monitorkit import (  # noqa: F401 (fixtures)
    Client,
    client_fixture,
    receiver_fixture,
    runtime_config,
    server_fixture,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from modelstack_runtime import RuntimeServer
from modelstack_runtime.tracing import (
    NoTracer,
    TraceContext,
    outgoing_headers,
    parse_traceparent,
    tracer_from_env,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEADER = f"00-{TRACE}-{PARENT}-01"
X = np.array([[5.1, 3.5, 1.4, 0.2]])
HEX = "0123456789abcdef"


def test_a_valid_header_parses() -> None:
    assert parse_traceparent(HEADER) == TraceContext(TRACE, PARENT, "01")
    assert parse_traceparent(HEADER).header() == HEADER  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        HEADER.upper(),  # upper-case hex is invalid
        f"01-{TRACE}-{PARENT}-01",  # an unknown version is not parsed as 00
        f"00-{'0' * 32}-{PARENT}-01",
        f"00-{TRACE}-{'0' * 16}-01",
        f"00-{TRACE}-{PARENT}-1",
        f"00-{TRACE}-{PARENT}-01-extra",
        f"00-{TRACE[:-1]}g-{PARENT}-01",
        f" {HEADER}",
        f"00_{TRACE}_{PARENT}_01",
    ],
)
def test_invalid_headers_are_ignored(header: str | None) -> None:
    assert parse_traceparent(header) is None


@given(st.text(max_size=80))
def test_no_string_raises(text: str) -> None:
    context = parse_traceparent(text)
    assert context is None or context.header() == text


@given(
    st.text(alphabet=HEX, min_size=32, max_size=32),
    st.text(alphabet=HEX, min_size=16, max_size=16),
    st.text(alphabet=HEX, min_size=2, max_size=2),
)
def test_valid_ids_round_trip(trace: str, span: str, flags: str) -> None:
    header = f"00-{trace}-{span}-{flags}"
    valid = trace != "0" * 32 and span != "0" * 16
    assert (parse_traceparent(header) is not None) == valid


def test_outgoing_headers_carry_this_span() -> None:
    span = NoTracer().start(TraceContext(TRACE, PARENT))
    assert span is not None and span.context is not None
    assert span.context.trace_id == TRACE and span.context.span_id != PARENT
    assert outgoing_headers(span.context) == {"traceparent": span.context.header()}
    assert outgoing_headers(None) == {}
    assert NoTracer().start(None) is None


def test_the_answer_carries_the_trace_on(client: Client) -> None:
    status, headers, _ = client.infer(X, {"traceparent": HEADER})
    assert status == 200
    answered = parse_traceparent(headers["traceparent"])
    assert answered is not None and answered.trace_id == TRACE and answered.span_id != PARENT


def test_an_error_answer_carries_the_trace_too(client: Client) -> None:
    status, headers, _ = client.infer(np.zeros((1, 3)), {"traceparent": HEADER})
    assert status == 400
    assert parse_traceparent(headers["traceparent"]).trace_id == TRACE  # type: ignore[union-attr]


@pytest.mark.parametrize("header", ["garbage", f"00-{'0' * 32}-{PARENT}-01"])
def test_an_invalid_header_is_ignored_never_a_500(client: Client, header: str) -> None:
    status, headers, _ = client.infer(X, {"traceparent": header})
    assert status == 200 and "traceparent" not in headers


def test_without_an_endpoint_opentelemetry_is_not_imported() -> None:
    code = (
        "import sys; from modelstack_runtime.tracing import tracer_from_env;"
        "t = tracer_from_env('m', '1', {}); import modelstack_runtime.dataplane;"
        "print(type(t).__name__, any(m.startswith('opentelemetry') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["NoTracer", "False"]
    assert isinstance(tracer_from_env("m", "1", {}), NoTracer)


def test_spans_reach_an_otlp_http_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[bytes]]
) -> None:
    endpoint, bodies = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    server = RuntimeServer(runtime_config(tmp_path))
    server.start()
    server.load()
    client = Client(server.port)
    try:
        status, headers, _ = client.infer(X, {"traceparent": HEADER})
        assert status == 200
    finally:
        client.close()
        server.stop(grace_s=5.0)  # flushes the batch
    spans = []
    for body in bodies:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                spans.extend(scope.spans)
    by_name = {span.name: span for span in spans}
    assert set(by_name) == {"infer iris", "decode", "infer", "encode"}
    root = by_name["infer iris"]
    assert all(span.trace_id.hex() == TRACE for span in spans)
    assert root.parent_span_id.hex() == PARENT
    assert headers["traceparent"] == f"00-{TRACE}-{root.span_id.hex()}-01"
    for name in ("decode", "infer", "encode"):
        child = by_name[name]
        assert child.parent_span_id == root.span_id
        assert root.start_time_unix_nano <= child.start_time_unix_nano <= child.end_time_unix_nano
        assert child.end_time_unix_nano <= root.end_time_unix_nano
