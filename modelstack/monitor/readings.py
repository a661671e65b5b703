"""What `modelstack monitor` reads from a target: request counts, the latency histogram and
drift, whatever the source (the runtime's /metrics, CloudWatch, Cloud Monitoring)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from modelstack.errors import InfrastructureError

__all__ = ["Readings", "histogram_quantile", "merge", "parse_exposition", "readings_from_text"]

_SAMPLE: Final = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?")
_LABEL: Final = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE: Final = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Readings:
    """Figures over the period read; latency buckets are (upper bound in ms, count)."""

    source: str
    requests: int = 0
    errors: int = 0
    client_errors: int = 0
    throttles: int = 0
    request_bytes: int = 0
    buckets: tuple[tuple[float, int], ...] = ()
    p50_ms: float | None = None
    p99_ms: float | None = None
    drift: dict[str, float] = field(default_factory=dict)
    output_drift: dict[str, float] = field(default_factory=dict)
    window_rows: int | None = None

    @property
    def error_rate(self) -> float | None:
        return None if self.requests == 0 else self.errors / self.requests


Sample = tuple[str, dict[str, str], float]


def parse_exposition(text: str, where: str) -> list[Sample]:
    """The samples of a Prometheus text exposition; InfrastructureError on a malformed line."""
    samples: list[Sample] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.fullmatch(line)
        if match is None:
            raise InfrastructureError(
                f"{where}: line {number} is not a metric sample: {raw[:80]!r}"
            )
        name, labels_text, value = match.groups()
        labels = {k: _UNESCAPE.sub(_unescape, v) for k, v in _LABEL.findall(labels_text or "")}
        try:
            samples.append((name, labels, float(value)))
        except ValueError:
            raise InfrastructureError(
                f"{where}: line {number}: {value!r} is not a number"
            ) from None
    return samples


def _unescape(match: re.Match[str]) -> str:
    return "\n" if match.group(1) == "n" else match.group(1)


def histogram_quantile(q: float, buckets: Sequence[tuple[float, int]]) -> float | None:
    """Prometheus's histogram_quantile over non-cumulative (bound, count) buckets, in order:
    linear inside the bucket the rank falls in; the last finite bound past it."""
    total = sum(count for _, count in buckets)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    lower = 0.0
    for bound, count in buckets:
        if count and seen + count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - seen) / count
        seen += count
        lower = bound if not math.isinf(bound) else lower
    return lower


def readings_from_text(text: str, where: str) -> Readings:
    """Readings from the runtime's /metrics exposition."""
    return _from_samples(parse_exposition(text, where), where)


def _from_samples(samples: Iterable[Sample], where: str) -> Readings:
    requests = {"ok": 0.0, "client_error": 0.0, "error": 0.0}
    cumulative: dict[float, float] = {}
    drift: dict[str, float] = {}
    outputs: dict[str, float] = {}
    nbytes = 0.0
    rows = None
    for name, labels, value in samples:
        if name == "modelstack_requests_total":
            outcome = labels.get("outcome", "ok")
            requests[outcome] = requests.get(outcome, 0.0) + value
        elif name == "modelstack_request_bytes_total":
            nbytes += value
        elif name == "modelstack_request_duration_seconds_bucket":
            bound = float(labels["le"]) * 1000.0
            cumulative[bound] = cumulative.get(bound, 0.0) + value
        elif name == "modelstack_drift_psi":
            drift[labels["feature"]] = value
        elif name == "modelstack_output_psi":
            outputs[labels["output"]] = value
        elif name == "modelstack_drift_window_rows":
            rows = int(value)
    buckets = _non_cumulative(cumulative)
    return Readings(
        source=where,
        requests=int(sum(requests.values())),
        errors=int(requests["error"]),
        client_errors=int(requests["client_error"]),
        request_bytes=int(nbytes),
        buckets=buckets,
        p50_ms=histogram_quantile(0.5, buckets),
        p99_ms=histogram_quantile(0.99, buckets),
        drift=drift,
        output_drift=outputs,
        window_rows=rows,
    )


def _non_cumulative(cumulative: dict[float, float]) -> tuple[tuple[float, int], ...]:
    out: list[tuple[float, int]] = []
    previous = 0.0
    for bound in sorted(cumulative):
        out.append((bound, int(cumulative[bound] - previous)))
        previous = cumulative[bound]
    return tuple(out)


def merge(parts: Sequence[Readings], where: str) -> Readings:
    """Several instances' readings as one: counts and buckets add; PSI is each feature's
    highest (the instances' windows hold different requests)."""
    if len(parts) == 1:
        return parts[0]
    buckets: dict[float, int] = {}
    for part in parts:
        for bound, count in part.buckets:
            buckets[bound] = buckets.get(bound, 0) + count
    ordered = tuple(sorted(buckets.items()))
    drift: dict[str, float] = {}
    outputs: dict[str, float] = {}
    for part in parts:
        for key, value in part.drift.items():
            drift[key] = max(value, drift.get(key, value))
        for key, value in part.output_drift.items():
            outputs[key] = max(value, outputs.get(key, value))
    rows = [p.window_rows for p in parts if p.window_rows is not None]
    return Readings(
        source=where,
        requests=sum(p.requests for p in parts),
        errors=sum(p.errors for p in parts),
        client_errors=sum(p.client_errors for p in parts),
        throttles=sum(p.throttles for p in parts),
        request_bytes=sum(p.request_bytes for p in parts),
        buckets=ordered,
        p50_ms=histogram_quantile(0.5, ordered),
        p99_ms=histogram_quantile(0.99, ordered),
        drift=drift,
        output_drift=outputs,
        window_rows=sum(rows) if rows else None,
    )
