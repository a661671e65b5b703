"""What the data plane observes besides answering: metrics, drift and traces, in one place."""

from __future__ import annotations

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
            if emf_namespace is not None and emit is not None:
                drift.on_rotate = _emf_drift(emf_namespace, config.model_name, emit)
        return cls(metrics, drift, tracer_from_env(config.model_name, config.model_version))

    def close(self) -> None:
        self.tracer.shutdown()


def _emf_drift(
    namespace: str, model: str, emit: Callable[[str], None]
) -> Callable[[DriftMonitor], None]:
    """On Lambda: each closed sub-window writes the window's PSI values as one EMF line."""

    def write(drift: DriftMonitor) -> None:
        features, outputs, rows = drift.scores()
        if rows < drift.profile.min_rows:
            return
        values = {f"drift_psi_{name}": value for name, value in features.items()}
        values["drift_psi_max"] = max(features.values(), default=0.0)  # what the alarm watches
        values.update({f"output_psi_{name}": value for name, value in outputs.items()})
        emit(emf_line(namespace, model, int(time.time() * 1000), values))

    return write
