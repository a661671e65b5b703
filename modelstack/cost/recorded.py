"""The last `--measure` result, kept beside the manifest in .modelstack/cost/latency-<target>.json.

`modelstack cost` and the estimate column of `modelstack plan` price with it when the traffic
profile sets no duration_ms.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Final

from modelstack.atomic_write import write_atomically
from modelstack.cost.pricing import target_pricing
from modelstack.manifest.model import Manifest, Target

__all__ = ["MAX_RECORD_BYTES", "latency_path", "read_latency", "write_latency"]

MAX_RECORD_BYTES: Final = 256 * 1024


def latency_path(manifest: Manifest, target: Target) -> Path:
    return manifest.directory / ".modelstack" / "cost" / f"latency-{target.name}.json"


def write_latency(manifest: Manifest, target: Target, record: dict[str, Any]) -> Path:
    """Write the record atomically (a temporary file, then a rename)."""
    path = latency_path(manifest, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def read_latency(manifest: Manifest, target: Target) -> float | None:
    """The recorded p50 at the target's size (`TargetPricing.size_mb`: Lambda's memory size,
    when the record has it), else the p50 recorded as the target's, or None."""
    path = latency_path(manifest, target)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_RECORD_BYTES + 1)
        record = json.loads(raw) if len(raw) <= MAX_RECORD_BYTES else None
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    sizes, size_mb = record.get("sizes"), target_pricing(target).size_mb
    if size_mb is not None and isinstance(sizes, list):
        for row in sizes:
            if isinstance(row, dict) and row.get("memory_mb") == size_mb:
                return _positive(row.get("p50_ms"))
    return _positive(record.get("target_p50_ms"))


def _positive(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value) if value > 0 else None
    return None
