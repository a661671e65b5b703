"""W3C trace context, and spans for decode, infer and encode over OTLP/HTTP.

A request's ``traceparent`` header is parsed strictly (W3C Trace Context level 1: version
``00``, 32 and 16 lower-case hex digits, neither all zeros, two hex flag digits); an invalid
one is ignored, as the specification asks. The answer carries a ``traceparent`` with the same
trace id and this server's span id, and :func:`outgoing_headers` gives the one for any further
hop. A routed request's hop to a tier gets its own client span (``route <tier>``, from
:meth:`Tracer.hop`) whose context the tier receives; without export there is no such span and
the request's own ``traceparent`` goes on unchanged. Spans are exported only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set and the
OpenTelemetry SDK with its OTLP/HTTP exporter is installed (the ``otel`` extra); otherwise
nothing of OpenTelemetry is imported.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ENDPOINT_ENVS",
    "Hop",
    "NoTracer",
    "Span",
    "TraceContext",
    "Tracer",
    "outgoing_headers",
    "parse_traceparent",
    "tracer_from_env",
]

ENDPOINT_ENVS: Final = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_TRACEPARENT: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE: Final = "0" * 32
_ZERO_SPAN: Final = "0" * 16
_ids: Final = random.Random(os.urandom(16))

logger = logging.getLogger("modelstack_runtime")


class TraceContext(NamedTuple):
    trace_id: str
    span_id: str
    flags: str = "01"

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def parse_traceparent(value: str | None) -> TraceContext | None:
    """The context of a ``traceparent`` header, or None when absent or invalid."""
    if value is None or len(value) != 55:
        return None
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceContext(trace_id, span_id, flags)


def outgoing_headers(context: TraceContext | None) -> dict[str, str]:
    """Headers that carry ``context`` (this server's span) to the next hop; {} without one."""
    return {} if context is None else {"traceparent": context.header()}


def _new_span_id() -> str:
    while True:
        value = _ids.getrandbits(64)
        if value:
            return f"{value:016x}"


class Span(Protocol):
    @property
    def context(self) -> TraceContext | None: ...

    def finish(self, start: float, infer_start: float, infer_end: float, end: float,
               status: int) -> None: ...  # fmt: skip


class Hop(Protocol):
    """A client span around one call to another service (a routed request's tier)."""

    @property
    def context(self) -> TraceContext: ...

    def end(self, status: int | None, error: str | None = None) -> None: ...


class Tracer(Protocol):
    def start(self, parent: TraceContext | None) -> Span | None: ...

    def hop(self, name: str, parent: TraceContext, attributes: Mapping[str, str]) -> Hop | None:
        """A span for a call made while answering `parent`'s request; None without export."""
        ...

    def shutdown(self) -> None: ...


class _Propagated:
    """A span that is only propagated: the parent's trace with a new span id."""

    __slots__ = ("context",)

    def __init__(self, context: TraceContext) -> None:
        self.context: TraceContext | None = context

    def finish(self, start: float, infer_start: float, infer_end: float, end: float,
               status: int) -> None:  # fmt: skip
        return None


class NoTracer:
    """No export: a request with a valid ``traceparent`` gets a span id to pass on."""

    def start(self, parent: TraceContext | None) -> Span | None:
        if parent is None:
            return None
        return _Propagated(TraceContext(parent.trace_id, _new_span_id(), parent.flags))

    def hop(self, name: str, parent: TraceContext, attributes: Mapping[str, str]) -> Hop | None:
        return None

    def shutdown(self) -> None:
        return None


class _OtelSpan:
    __slots__ = ("_span", "_tracer", "_wall", "context")

    def __init__(self, span: Any, tracer: Any, context: TraceContext, wall_ns: int) -> None:
        self._span = span
        self._tracer = tracer
        self._wall = wall_ns - time.perf_counter_ns()
        self.context: TraceContext | None = context

    def finish(self, start: float, infer_start: float, infer_end: float, end: float,
               status: int) -> None:  # fmt: skip
        from opentelemetry import trace

        wall = self._wall
        parent = trace.set_span_in_context(self._span)
        phases = (("decode", start, infer_start), ("infer", infer_start, infer_end),
                  ("encode", infer_end, end))  # fmt: skip
        for name, begin, finish in phases:
            if finish <= 0:
                continue
            child = self._tracer.start_span(
                name, context=parent, start_time=wall + int(begin * 1e9)
            )
            child.end(end_time=wall + int(finish * 1e9))
        self._span.set_attribute("http.response.status_code", status)
        self._span.end(end_time=wall + int(end * 1e9))


def _own_context(span: Any) -> TraceContext:
    ids = span.get_span_context()
    return TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", f"{ids.trace_flags:02x}")


def _parent_context(parent: TraceContext) -> Any:
    from opentelemetry import trace

    remote = trace.SpanContext(
        int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True,
        trace_flags=trace.TraceFlags(int(parent.flags, 16)),
    )  # fmt: skip
    return trace.set_span_in_context(trace.NonRecordingSpan(remote))


class _OtelHop:
    __slots__ = ("_span", "context")

    def __init__(self, span: Any) -> None:
        self._span = span
        self.context = _own_context(span)

    def end(self, status: int | None, error: str | None = None) -> None:
        from opentelemetry.trace import Status, StatusCode

        if status is not None:
            self._span.set_attribute("http.response.status_code", status)
        if error is not None:
            self._span.set_status(Status(StatusCode.ERROR, error))
        self._span.end()


class OtelTracer:
    """Spans through the OpenTelemetry SDK, batched to the OTLP/HTTP exporter."""

    def __init__(self, model: str, version: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", model),
             "service.version": version}
        )  # fmt: skip
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        self._tracer = self._provider.get_tracer("modelstack_runtime")
        self._model = model

    def start(self, parent: TraceContext | None) -> Span | None:
        from opentelemetry import trace

        context = None if parent is None else _parent_context(parent)
        wall = time.time_ns()
        span = self._tracer.start_span(
            "infer " + self._model, context=context, kind=trace.SpanKind.SERVER,
            start_time=wall,
        )  # fmt: skip
        return _OtelSpan(span, self._tracer, _own_context(span), wall)

    def hop(self, name: str, parent: TraceContext, attributes: Mapping[str, str]) -> Hop | None:
        from opentelemetry import trace

        span = self._tracer.start_span(
            name, context=_parent_context(parent), kind=trace.SpanKind.CLIENT,
            attributes=dict(attributes),
        )  # fmt: skip
        return _OtelHop(span)

    def shutdown(self) -> None:
        self._provider.shutdown()  # exports what is still batched


def tracer_from_env(model: str, version: str, env: Mapping[str, str] | None = None) -> Tracer:
    """:class:`OtelTracer` when an OTLP endpoint is set and the SDK is installed."""
    env = os.environ if env is None else env
    if not any(env.get(name) for name in ENDPOINT_ENVS):
        return NoTracer()
    try:
        return OtelTracer(model, version)
    except ImportError:
        logger.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OpenTelemetry SDK is not installed; "
            "no spans are exported (add opentelemetry-sdk and "
            "opentelemetry-exporter-otlp-proto-http to build.python_packages)"
        )
        return NoTracer()
