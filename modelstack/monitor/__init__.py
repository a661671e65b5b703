"""Monitoring: the manifest's `monitoring:` section, the drift reference profile built into the
image, and `modelstack monitor`'s readings of a target's metrics. Imports nothing heavy."""

from __future__ import annotations

from modelstack.monitor.spec import MonitoringSpec, monitoring_spec

__all__ = ["MonitoringSpec", "monitoring_spec"]
