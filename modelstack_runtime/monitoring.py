"""What the data plane observes besides answering: metrics, drift and traces, in one place."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from modelstack_runtime.drift import DriftMonitor, DriftProfile
from modelstack_runtime.metrics import RuntimeMetrics, emf_line
from modelstack_runtime.tracing import Tracer, tracer_from_env

if TYPE_CHECKING:
    from modelstack_runtime.config import RuntimeConfig

__all__ = ["Monitoring"]


class Monitoring:
    """The metrics of one process, its drift window (with a profile) and its tracer."""

    def __init__(self, metrics: RuntimeMetrics, drift: DriftMonitor | None, tracer: Tracer) -> None:
        self.metrics = metrics
        self.drift = drift
        self.tracer = tracer
        if drift is not None:
            metrics.add_collector(drift.collector)

    @classmethod
    def from_config(
        cls,
        config: RuntimeConfig,
        *,
        emf_namespace: str | None = None,
        emit: Callable[[str], None] | None = None,
    ) -> Monitoring:
        metrics = RuntimeMetrics(config.model_name, config.model_version)
        drift = None
        if config.monitoring is not None:
            drift = DriftMonitor(DriftProfile.from_dict(config.monitoring))
            if emit is not None:
                drift.on_rotate = _drift_line(emf_namespace, config.model_name, emit)
        return cls(metrics, drift, tracer_from_env(config.model_name, config.model_version))

    def close(self) -> None:
        self.tracer.shutdown()


def _drift_line(
    namespace: str | None, model: str, emit: Callable[[str], None]
) -> Callable[[DriftMonitor], None]:
    """Each closed sub-window writes the window's PSI values as one line: EMF on Lambda, else
    ``{"event": "drift", ...}`` (which a log-based metric reads on Cloud Run)."""

    def write(drift: DriftMonitor) -> None:
        features, outputs, rows = drift.scores()
        if rows < drift.profile.min_rows:
            return
        highest = max(features.values(), default=0.0)  # what the drift alarms watch
        if namespace is None:
            emit(json.dumps({"event": "drift", "model": model, "rows": rows,
                             "drift_psi_max": highest, "psi": features, "output_psi": outputs},
                            separators=(",", ":"), allow_nan=False))  # fmt: skip
            return
        values = {f"drift_psi_{name}": value for name, value in features.items()}
        values["drift_psi_max"] = highest
        values.update({f"output_psi_{name}": value for name, value in outputs.items()})
        emit(emf_line(namespace, model, int(time.time() * 1000), values))

    return write
