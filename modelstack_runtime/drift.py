"""Input and output drift against a reference profile computed at build time.

The profile (the ``monitoring`` key of the runtime config) holds, for each watched input
feature, the inner edges of its quantile bins and the reference's fraction in each bin, and for
each output its class frequencies or bins. The runtime keeps only counts, never payloads: a
ring of ``slices`` sub-windows, each one flat array of bin counts, so the rolling window is
bounded (``slices x bins`` integers) and windows merge by adding counts. A sub-window is
closed after ``requests / slices`` requests, or ``seconds / slices`` seconds.

PSI (population stability index) of one feature: ``sum((a - e) * ln(a / e))`` over its bins,
with ``a`` the window's fractions and ``e`` the reference's, both floored at
:data:`PSI_FLOOR` so that an empty bin counts as rare, not infinite.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from modelstack_runtime.errors import ConfigError

__all__ = [
    "PSI_FLOOR",
    "DriftMonitor",
    "DriftProfile",
    "FeatureBins",
    "OutputBins",
    "band",
    "bin_index",
    "psi",
]

PSI_FLOOR: Final = 1e-4
PROFILE_VERSION: Final = 1
MAX_FEATURES: Final = 1000
MAX_EDGES: Final = 100
MAX_CLASSES: Final = 1000
MAX_SLICES: Final = 100


@dataclass(frozen=True)
class FeatureBins:
    """One watched column: ``input``'s ``column`` (of a row flattened), its bins."""

    name: str
    input: str
    column: int
    edges: tuple[float, ...]
    expected: tuple[float, ...]


@dataclass(frozen=True)
class OutputBins:
    """One output: ``classes`` (class values, plus one bin for any other) or ``edges``.

    A float output with several columns per row counts its argmax as the class.
    """

    name: str
    expected: tuple[float, ...]
    classes: tuple[int, ...] = ()
    edges: tuple[float, ...] = ()


@dataclass(frozen=True)
class DriftProfile:
    features: tuple[FeatureBins, ...]
    outputs: tuple[OutputBins, ...]
    window_requests: int | None = 1000
    window_seconds: float | None = None
    slices: int = 10
    min_rows: int = 100
    warn: float = 0.1
    alarm: float = 0.25

    @classmethod
    def from_dict(cls, data: Any) -> DriftProfile:
        """The profile from its JSON form; ConfigError naming the key that is wrong."""
        try:
            return _profile(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"runtime config: monitoring: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "window": {
                "requests": self.window_requests,
                "seconds": self.window_seconds,
                "slices": self.slices,
                "min_rows": self.min_rows,
            },
            "thresholds": {"warn": self.warn, "alarm": self.alarm},
            "features": [
                {"name": f.name, "input": f.input, "column": f.column,
                 "edges": list(f.edges), "expected": list(f.expected)}
                for f in self.features
            ],
            "outputs": [
                {"name": o.name, "classes": list(o.classes), "edges": list(o.edges),
                 "expected": list(o.expected)}
                for o in self.outputs
            ],
        }  # fmt: skip


def _floats(values: Any, what: str, limit: int) -> tuple[float, ...]:
    if not isinstance(values, list) or len(values) > limit:
        raise ValueError(f"{what}: expected a list of at most {limit} numbers")
    out = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in out):
        raise ValueError(f"{what}: every number must be finite")
    return out


def _expected(values: Any, what: str, bins: int) -> tuple[float, ...]:
    out = _floats(values, what, bins)
    if len(out) != bins or any(v < 0 for v in out):
        raise ValueError(f"{what}: expected {bins} non-negative fractions")
    return out


def _profile(data: Any) -> DriftProfile:
    if not isinstance(data, dict) or data.get("version") != PROFILE_VERSION:
        raise ValueError(f"expected an object with version {PROFILE_VERSION}")
    window, thresholds = data["window"], data["thresholds"]
    features = []
    if not isinstance(data["features"], list) or len(data["features"]) > MAX_FEATURES:
        raise ValueError(f"features: expected a list of at most {MAX_FEATURES}")
    for i, f in enumerate(data["features"]):
        edges = _floats(f["edges"], f"features[{i}].edges", MAX_EDGES)
        if list(edges) != sorted(set(edges)):
            raise ValueError(f"features[{i}].edges: must increase strictly")
        column = int(f["column"])
        if column < 0:
            raise ValueError(f"features[{i}].column: must be >= 0")
        expected = _expected(f["expected"], f"features[{i}].expected", len(edges) + 1)
        features.append(FeatureBins(str(f["name"]), str(f["input"]), column, edges, expected))
    outputs = []
    for i, o in enumerate(data["outputs"]):
        classes = tuple(int(c) for c in o.get("classes", [])[: MAX_CLASSES + 1])
        if len(classes) > MAX_CLASSES or list(classes) != sorted(set(classes)):
            raise ValueError(f"outputs[{i}].classes: at most {MAX_CLASSES}, increasing")
        edges = _floats(o.get("edges", []), f"outputs[{i}].edges", MAX_EDGES)
        bins = len(classes) + 1 if classes else len(edges) + 1
        expected = _expected(o["expected"], f"outputs[{i}].expected", bins)
        outputs.append(OutputBins(str(o["name"]), expected, classes, edges))
    slices = int(window["slices"])
    if not 1 <= slices <= MAX_SLICES:
        raise ValueError(f"window.slices: expected 1-{MAX_SLICES}")
    requests, seconds = window.get("requests"), window.get("seconds")
    if (requests is None) == (seconds is None):
        raise ValueError("window: set exactly one of requests and seconds")
    return DriftProfile(
        tuple(features), tuple(outputs),
        window_requests=None if requests is None else max(int(requests), slices),
        window_seconds=None if seconds is None else float(seconds),
        slices=slices, min_rows=int(window.get("min_rows", 100)),
        warn=float(thresholds["warn"]), alarm=float(thresholds["alarm"]),
    )  # fmt: skip


def bin_index(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin of each value: how many edges are at most it (the build and the runtime agree)."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")


def psi(expected: Sequence[float], counts: Sequence[float]) -> float:
    """The population stability index of ``counts`` against the ``expected`` fractions."""
    total = float(sum(counts))
    if total <= 0:
        return 0.0
    result = 0.0
    for e, c in zip(expected, counts, strict=True):
        a = max(c / total, PSI_FLOOR)
        e = max(e, PSI_FLOOR)
        result += (a - e) * math.log(a / e)
    return result


def band(value: float, warn: float, alarm: float) -> str:
    """``ok`` below ``warn``, ``warn`` below ``alarm``, else ``alarm``."""
    if value >= alarm:
        return "alarm"
    return "warn" if value >= warn else "ok"


class _Layout:
    """Where each feature's and output's bins sit in one flat counts array."""

    def __init__(self, profile: DriftProfile) -> None:
        self.by_input: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        offset = 0
        offsets: list[int] = []
        groups: dict[str, list[int]] = {}
        for i, feature in enumerate(profile.features):
            offsets.append(offset)
            offset += len(feature.edges) + 1
            groups.setdefault(feature.input, []).append(i)
        width = max((len(f.edges) for f in profile.features), default=0)
        for name, members in groups.items():
            edges = np.full((len(members), width), np.inf)
            for row, i in enumerate(members):
                edges[row, : len(profile.features[i].edges)] = profile.features[i].edges
            columns = np.array([profile.features[i].column for i in members], dtype=np.intp)
            base = np.array([offsets[i] for i in members], dtype=np.intp)
            self.by_input[name] = (columns, edges, base)
        self.feature_offsets = offsets
        self.output_offsets: list[int] = []
        for output in profile.outputs:
            self.output_offsets.append(offset)
            offset += len(output.expected)
        self.size = offset


class DriftMonitor:
    """The rolling window of bin counts for one runtime process."""

    def __init__(
        self, profile: DriftProfile, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.profile = profile
        self._layout = _Layout(profile)
        self._clock = clock
        self._lock = threading.Lock()
        self._slices = np.zeros((profile.slices, self._layout.size), dtype=np.int64)
        self._rows = np.zeros(profile.slices, dtype=np.int64)
        self._requests = 0
        self._current = 0
        self._opened = clock()
        self.on_rotate: Callable[[DriftMonitor], None] | None = None

    @property
    def nbytes(self) -> int:
        """Memory held by the counts (the state that grows with watched features)."""
        return int(self._slices.nbytes + self._rows.nbytes)

    def observe(self, inputs: Mapping[str, np.ndarray], outputs: Mapping[str, np.ndarray]) -> None:
        """Count one request's rows: nothing of the values is kept."""
        parts: list[np.ndarray] = []
        rows = 0
        for name, (columns, edges, base) in self._layout.by_input.items():
            array = inputs.get(name)
            if array is None or array.dtype.kind not in "biuf" or array.ndim == 0:
                continue
            flat = array.reshape(len(array), -1)
            if flat.shape[1] <= int(columns.max()):
                continue
            picked = flat[:, columns].astype(np.float64, copy=False)
            bins = (picked[:, :, None] >= edges[None, :, :]).sum(axis=2)
            parts.append((bins + base[None, :]).ravel())
            rows = max(rows, len(array))
        for output, offset in zip(self.profile.outputs, self._layout.output_offsets, strict=True):
            array = outputs.get(output.name)
            if array is not None and array.ndim > 0:
                parts.append(_output_bins(output, array) + offset)
        if not parts:
            return
        counts = np.bincount(np.concatenate(parts), minlength=self._layout.size)
        with self._lock:
            rotated = self._advance()
            self._slices[self._current] += counts
            self._rows[self._current] += rows
            self._requests += 1
        if rotated and self.on_rotate is not None:
            self.on_rotate(self)

    def _advance(self) -> bool:
        """Close the current sub-window when it is full (caller holds the lock)."""
        profile = self.profile
        if profile.window_requests is not None:
            full = self._requests >= profile.window_requests // profile.slices
        else:
            assert profile.window_seconds is not None
            full = self._clock() - self._opened >= profile.window_seconds / profile.slices
        if not full:
            return False
        self._current = (self._current + 1) % profile.slices
        self._slices[self._current] = 0
        self._rows[self._current] = 0
        self._requests = 0
        self._opened = self._clock()
        return True

    def window(self) -> tuple[np.ndarray, int]:
        """The merged counts of the whole window and its number of rows."""
        with self._lock:
            return self._slices.sum(axis=0), int(self._rows.sum())

    def scores(self) -> tuple[dict[str, float], dict[str, float], int]:
        """PSI per watched feature and per output over the window, and the window's rows."""
        counts, rows = self.window()
        layout = self._layout
        features = {
            f.name: psi(f.expected, counts[start : start + len(f.expected)].tolist())
            for f, start in zip(self.profile.features, layout.feature_offsets, strict=True)
        }
        outputs = {
            o.name: psi(o.expected, counts[start : start + len(o.expected)].tolist())
            for o, start in zip(self.profile.outputs, layout.output_offsets, strict=True)
        }
        return features, outputs, rows

    def collector(self, labels: str) -> Iterable[str]:
        """Exposition lines: the window's rows, and PSI once it holds ``min_rows`` rows."""
        features, outputs, rows = self.scores()
        yield "# HELP modelstack_drift_window_rows Rows in the drift window."
        yield "# TYPE modelstack_drift_window_rows gauge"
        yield f"modelstack_drift_window_rows{{{labels}}} {rows}"
        if rows < self.profile.min_rows:
            return
        yield "# HELP modelstack_drift_psi PSI of an input feature against the reference."
        yield "# TYPE modelstack_drift_psi gauge"
        for name, value in features.items():
            yield f"modelstack_drift_psi{{{labels},feature={_quote(name)}}} {value!r}"
        yield "# HELP modelstack_output_psi PSI of an output's distribution against the reference."
        yield "# TYPE modelstack_output_psi gauge"
        for name, value in outputs.items():
            yield f"modelstack_output_psi{{{labels},output={_quote(name)}}} {value!r}"


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _output_bins(output: OutputBins, array: np.ndarray) -> np.ndarray:
    if output.classes:
        rows: np.ndarray = array.reshape(len(array), -1)
        if rows.dtype.kind == "f" and rows.shape[1] > 1:
            rows = rows.argmax(axis=1)
        values = rows.ravel().astype(np.int64, copy=False)
        classes = np.asarray(output.classes, dtype=np.int64)
        found = np.searchsorted(classes, values).clip(0, len(classes) - 1)
        return np.where(classes[found] == values, found, len(classes))
    flat = array.reshape(-1).astype(np.float64, copy=False)
    return bin_index(flat, output.edges)
