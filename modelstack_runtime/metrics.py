"""The runtime's own metrics: Prometheus text exposition for ``GET /metrics``, and CloudWatch
Embedded Metric Format (EMF) fields for the Lambda access lines.

No client library: ``prometheus_client`` costs 70-90 ms to import (``python -X importtime``),
more than the whole runtime start, and a request only needs a few counters under one lock.
Every series is labelled by the served model and version (never by anything a request
chooses, so the number of series stays fixed) and by ``outcome``: ``ok``, ``client_error``
(4xx) or ``error`` (5xx).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

__all__ = [
    "EMF_MAX_DIMENSIONS",
    "EMF_MAX_METRICS",
    "EMF_REQUEST_METRICS",
    "LATENCY_BUCKETS_S",
    "OUTCOMES",
    "PROMETHEUS_CONTENT_TYPE",
    "RuntimeMetrics",
    "emf_directives",
    "emf_line",
    "emf_request_fields",
    "outcome_of",
]

PROMETHEUS_CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES: Final = ("ok", "client_error", "error")
LATENCY_BUCKETS_S: Final = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
"""Upper bounds of the latency histograms' buckets, in seconds (``+Inf`` follows)."""

EMF_MAX_METRICS: Final = 100
"""CloudWatch EMF: at most 100 metrics in one directive."""
EMF_MAX_DIMENSIONS: Final = 30
"""CloudWatch EMF: at most 30 dimensions in one dimension set."""
EMF_REQUEST_METRICS: Final = (
    ("latency_ms", "Milliseconds"),
    ("inference_ms", "Milliseconds"),
    ("request_bytes", "Bytes"),
    ("response_bytes", "Bytes"),
    ("errors", "Count"),
    ("client_errors", "Count"),
)
"""The metrics each Lambda access line carries as top-level members."""

_INDEX: Final = {outcome: i for i, outcome in enumerate(OUTCOMES)}
_BUCKETS: Final = len(LATENCY_BUCKETS_S) + 1


def outcome_of(status: int) -> str:
    """``ok`` below 400, ``client_error`` for 4xx, ``error`` for 5xx."""
    if status < 400:
        return "ok"
    return "client_error" if status < 500 else "error"


class _Histogram:
    """Per-bucket counts (not cumulative until exposed) and the sum, per outcome."""

    __slots__ = ("counts", "sums")

    def __init__(self) -> None:
        self.counts = [[0] * _BUCKETS for _ in OUTCOMES]
        self.sums = [0.0 for _ in OUTCOMES]

    def observe(self, index: int, seconds: float) -> None:
        self.counts[index][bisect_left(LATENCY_BUCKETS_S, seconds)] += 1
        self.sums[index] += seconds


class RuntimeMetrics:
    """Counters of one runtime process. :meth:`observe` costs one lock and a bisect."""

    def __init__(self, model: str, version: str) -> None:
        self._labels = f"model={_label(model)},version={_label(version)}"
        self._lock = threading.Lock()
        self._requests = [0 for _ in OUTCOMES]
        self._request_bytes = [0 for _ in OUTCOMES]
        self._response_bytes = [0 for _ in OUTCOMES]
        self._latency = _Histogram()
        self._inference = _Histogram()
        self._in_flight = 0
        self._collectors: list[Callable[[str], Iterable[str]]] = []

    def add_collector(self, collector: Callable[[str], Iterable[str]]) -> None:
        """Add exposition lines computed at scrape time (given the model/version labels)."""
        self._collectors.append(collector)

    def started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def observe(
        self,
        status: int,
        total_s: float,
        infer_s: float | None,
        request_bytes: int | None,
        response_bytes: int | None,
    ) -> None:
        """Count one finished request (and end its in-flight count)."""
        index = _INDEX[outcome_of(status)]
        with self._lock:
            self._in_flight -= 1
            self._requests[index] += 1
            if request_bytes:
                self._request_bytes[index] += request_bytes
            if response_bytes:
                self._response_bytes[index] += response_bytes
            self._latency.observe(index, total_s)
            if infer_s is not None:
                self._inference.observe(index, infer_s)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def requests(self, outcome: str) -> int:
        return self._requests[_INDEX[outcome]]

    def exposition(self) -> bytes:
        """The Prometheus text format (version 0.0.4) of every series."""
        with self._lock:
            requests = list(self._requests)
            sent = list(self._request_bytes)
            answered = list(self._response_bytes)
            latency = ([list(c) for c in self._latency.counts], list(self._latency.sums))
            inference = ([list(c) for c in self._inference.counts], list(self._inference.sums))
            in_flight = self._in_flight
        labels = self._labels
        lines: list[str] = []
        _counter(lines, "modelstack_requests", "Infer requests answered.", labels, requests)
        _counter(lines, "modelstack_request_bytes", "Request body bytes.", labels, sent)
        _counter(lines, "modelstack_response_bytes", "Response body bytes.", labels, answered)
        _histogram(
            lines, "modelstack_request_duration_seconds",
            "Time from a request's arrival at the data plane to its answer.", labels, *latency,
        )  # fmt: skip
        _histogram(
            lines, "modelstack_inference_duration_seconds",
            "Time inside onnxruntime's run for one request.", labels, *inference,
        )  # fmt: skip
        lines.append("# HELP modelstack_in_flight Infer requests being answered now.")
        lines.append("# TYPE modelstack_in_flight gauge")
        lines.append(f"modelstack_in_flight{{{labels}}} {in_flight}")
        for collector in self._collectors:
            lines.extend(collector(labels))
        return ("\n".join(lines) + "\n").encode("utf-8")


def _label(value: str) -> str:
    """A label value in the exposition format's quoting (backslash, quote and newline)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _counter(lines: list[str], name: str, text: str, labels: str, values: list[int]) -> None:
    lines.append(f"# HELP {name}_total {text}")
    lines.append(f"# TYPE {name}_total counter")
    for outcome, value in zip(OUTCOMES, values, strict=True):
        lines.append(f'{name}_total{{{labels},outcome="{outcome}"}} {value}')


def _histogram(
    lines: list[str],
    name: str,
    text: str,
    labels: str,
    counts: list[list[int]],
    sums: list[float],
) -> None:
    lines.append(f"# HELP {name} {text}")
    lines.append(f"# TYPE {name} histogram")
    for outcome, buckets, total in zip(OUTCOMES, counts, sums, strict=True):
        series = f'{labels},outcome="{outcome}"'
        running = 0
        for bound, count in zip(LATENCY_BUCKETS_S, buckets, strict=False):
            running += count
            lines.append(f'{name}_bucket{{{series},le="{bound!r}"}} {running}')
        running += buckets[-1]
        lines.append(f'{name}_bucket{{{series},le="+Inf"}} {running}')
        lines.append(f"{name}_sum{{{series}}} {total!r}")
        lines.append(f"{name}_count{{{series}}} {running}")


# --- CloudWatch Embedded Metric Format ------------------------------------------------------


def emf_directives(
    namespace: str,
    dimensions: Sequence[str],
    metrics: Sequence[tuple[str, str]],
) -> list[dict[str, Any]]:
    """``CloudWatchMetrics`` directives for ``metrics`` (name, unit), at most
    :data:`EMF_MAX_METRICS` in each, with one dimension set of ``dimensions``.

    Raises ValueError past EMF's limit on dimensions (a programming error, never input).
    """
    if len(dimensions) > EMF_MAX_DIMENSIONS:
        raise ValueError(f"EMF allows {EMF_MAX_DIMENSIONS} dimensions, got {len(dimensions)}")
    directives: list[dict[str, Any]] = []
    for start in range(0, len(metrics), EMF_MAX_METRICS):
        chunk = metrics[start : start + EMF_MAX_METRICS]
        directives.append(
            {
                "Namespace": namespace,
                "Dimensions": [list(dimensions)],
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in chunk],
            }
        )
    return directives


def emf_request_fields(
    status: int,
    infer_s: float | None,
    request_bytes: int | None,
    response_bytes: int | None,
) -> str:
    """The request metrics beyond the access line's ``latency_ms``, as JSON members."""
    outcome = outcome_of(status)
    inference_ms = 0.0 if infer_s is None else round(infer_s * 1000.0, 3)
    return (
        f'"inference_ms":{inference_ms!r},"request_bytes":{request_bytes or 0},'
        f'"response_bytes":{response_bytes or 0},"errors":{int(outcome == "error")},'
        f'"client_errors":{int(outcome == "client_error")}'
    )


def emf_line(namespace: str, model: str, timestamp_ms: int, values: dict[str, float]) -> str:
    """A stand-alone EMF line of gauges (such as drift), chunked within EMF's limits."""
    import json

    metrics = [(name, "None") for name in values]
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": emf_directives(namespace, ["model"], metrics),
        },
        "model": model,
        **values,
    }
    return json.dumps(document, separators=(",", ":"), allow_nan=False)
