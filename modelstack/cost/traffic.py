"""Traffic profiles: requests per hour over one week (168 hours, Monday 00:00 UTC first).

A profile comes from the manifest's `traffic:` section, a `--traffic` file (a CSV of real
hourly counts, or YAML/JSON with the section's keys) or flags for a flat week. A month is
730 hours, as the providers' price pages count it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

from modelstack.errors import CostError
from modelstack.manifest.traffic import TrafficSpec

__all__ = [
    "HOURS_PER_MONTH",
    "HOURS_PER_WEEK",
    "MAX_COUNTS_FILE_BYTES",
    "TrafficProfile",
    "pattern_week",
    "profile_from_spec",
    "read_counts",
    "spec_from_mapping",
]

HOURS_PER_WEEK: Final = 168
HOURS_PER_MONTH: Final = 730
MAX_COUNTS_FILE_BYTES: Final = 64 * 1024
"""A counts CSV larger than this is refused before it is parsed (168 rows fit in far less)."""
OFF_HOURS_SHARE: Final = 0.05
"""business-hours: the rate outside Monday-Friday 09:00-17:00 UTC, as a share of the rate inside."""
SPIKE_HOUR: Final = 12


@dataclass(frozen=True)
class TrafficProfile:
    hourly: tuple[float, ...]
    """Requests in each hour of the week."""
    payload_bytes: int = 1024
    duration_ms: float | None = None
    init_ms: float | None = None
    target_utilization: float = 0.6
    origin: str = "flags"

    @property
    def requests_per_month(self) -> float:
        return sum(self.hourly) * HOURS_PER_MONTH / HOURS_PER_WEEK

    @property
    def peak_per_second(self) -> float:
        return max(self.hourly) / 3600.0

    def scaled_to(self, requests_per_month: float) -> TrafficProfile:
        """The same weekly shape carrying `requests_per_month` (flat when it carried none)."""
        total = sum(self.hourly)
        shape = [h / total for h in self.hourly] if total > 0 else [1 / HOURS_PER_WEEK] * 168
        week = requests_per_month * HOURS_PER_WEEK / HOURS_PER_MONTH
        return replace(self, hourly=tuple(week * s for s in shape))

    def with_duration(self, duration_ms: float | None) -> TrafficProfile:
        return replace(self, duration_ms=duration_ms)


def pattern_week(
    pattern: str, requests_per_month: float, peak_factor: float = 10.0
) -> tuple[float, ...]:
    """The 168 hourly counts of a named pattern carrying `requests_per_month`."""
    if pattern == "flat":
        weights = [1.0] * HOURS_PER_WEEK
    elif pattern == "business-hours":
        weights = [
            1.0 if day < 5 and 9 <= hour < 17 else OFF_HOURS_SHARE
            for day in range(7)
            for hour in range(24)
        ]
    elif pattern == "spiky":
        weights = [
            peak_factor if hour == SPIKE_HOUR else 1.0 for _ in range(7) for hour in range(24)
        ]
    else:
        raise CostError(f"unknown traffic pattern '{pattern}'; use flat, business-hours or spiky")
    _check_count(requests_per_month, "requests_per_month")
    week = requests_per_month * HOURS_PER_WEEK / HOURS_PER_MONTH
    total = sum(weights)
    return tuple(week * w / total for w in weights)


def _check_count(value: float, what: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise CostError(f"{what} must be a finite number of requests, 0 or more, not {value}")


def read_counts(path: Path, shown: str | None = None) -> tuple[float, ...]:
    """The 168 hourly counts of a CSV file: one count per line, or columns hour,requests."""
    name = shown or str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_COUNTS_FILE_BYTES + 1)
    except OSError as exc:
        raise CostError(f"{name}: cannot read the counts file: {exc.strerror or exc}") from None
    if len(raw) > MAX_COUNTS_FILE_BYTES:
        raise CostError(
            f"{name}: a counts file may hold at most {MAX_COUNTS_FILE_BYTES} bytes "
            "(MAX_COUNTS_FILE_BYTES); it needs only 168 hourly counts"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CostError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    return _parse_counts(text, name)


def _parse_counts(text: str, name: str) -> tuple[float, ...]:
    rows = [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text)), start=1) if row]
    if rows and rows[0][1] and not _is_number(rows[0][1][-1]):
        header = [c.strip().lower() for c in rows[0][1]]
        if header not in (["requests"], ["hour", "requests"]):
            raise CostError(
                f"{name}:1:1: the header must be 'requests' or 'hour,requests', not "
                f"{','.join(rows[0][1])!r}"
            )
        rows = rows[1:]
    counts = []
    for line, row in rows:
        cell = row[-1].strip()
        column = sum(len(c) + 1 for c in row[:-1]) + 1
        if len(row) > 2:
            raise CostError(
                f"{name}:{line}:1: expected 'requests' or 'hour,requests', got {len(row)} columns"
            )
        if not _is_number(cell):
            raise CostError(f"{name}:{line}:{column}: {cell!r} is not a request count")
        value = float(cell)
        if not math.isfinite(value) or value < 0:
            raise CostError(
                f"{name}:{line}:{column}: a request count must be 0 or more, not {cell}"
            )
        counts.append(value)
    if len(counts) != HOURS_PER_WEEK:
        raise CostError(
            f"{name}: {len(counts)} hourly counts; a week needs exactly {HOURS_PER_WEEK}, "
            "Monday 00:00 UTC first"
        )
    return tuple(counts)


def _is_number(cell: str) -> bool:
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True


def profile_from_spec(spec: TrafficSpec, directory: Path, origin: str) -> TrafficProfile:
    """A profile from a `traffic:` section whose files are relative to `directory`."""
    if spec.counts_file is not None and spec.requests_per_month is not None:
        raise CostError(
            f"{origin}: set traffic.counts_file or traffic.requests_per_month, not both"
        )
    if spec.counts_file is not None:
        from modelstack.errors import ModelError
        from modelstack.modelfile import resolve_in_bundle

        try:
            path = resolve_in_bundle(directory, spec.counts_file, what="counts file")
        except ModelError as exc:
            raise CostError(f"{origin}: traffic.counts_file: {exc}") from None
        hourly = read_counts(path, spec.counts_file)
    elif spec.requests_per_month is not None:
        hourly = pattern_week(spec.pattern, spec.requests_per_month, spec.peak_factor)
    else:
        raise CostError(
            f"{origin}: traffic needs requests_per_month (with a pattern) or counts_file"
        )
    return TrafficProfile(
        hourly=hourly,
        payload_bytes=spec.payload_bytes,
        duration_ms=spec.duration_ms,
        init_ms=spec.init_ms,
        target_utilization=spec.target_utilization,
        origin=origin,
    )


def spec_from_mapping(data: Any, origin: str) -> TrafficSpec:
    """A `--traffic` YAML/JSON file's section, checked against the schema's `traffic` object."""
    import jsonschema

    from modelstack.manifest.traffic import traffic_from_dict
    from modelstack.resources import load_schema

    schema = load_schema()
    wrapper = {"$defs": schema["$defs"], "$ref": "#/$defs/traffic"}
    errors = sorted(jsonschema.Draft202012Validator(wrapper).iter_errors(data), key=str)
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise CostError(f"{origin}: traffic {where}: {first.message}")
    return traffic_from_dict(data)
