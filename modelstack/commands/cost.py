"""`modelstack cost`: what a target costs a month, against its alternatives and reserved servers."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TextIO

from modelstack.cost.estimate import break_even, curve, estimate_target
from modelstack.cost.prices import PriceTable, load_tables
from modelstack.cost.recorded import read_latency
from modelstack.cost.report import report_dict, report_markdown, report_text
from modelstack.cost.traffic import TrafficProfile, pattern_week, profile_from_spec, read_counts
from modelstack.errors import CostError, UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest, Target
from modelstack.manifest.targets import select_target

__all__ = ["FORMATS", "cost"]

FORMATS = ("text", "json", "markdown")


def _profile(
    manifest: Manifest, traffic: str | None, requests_per_month: float | None
) -> TrafficProfile:
    if requests_per_month is not None:
        if traffic is not None:
            raise UsageError("--traffic and --requests-per-month contradict each other; pass one")
        duration = manifest.traffic.duration_ms if manifest.traffic else None
        return TrafficProfile(
            hourly=pattern_week("flat", requests_per_month),
            duration_ms=duration,
            origin="--requests-per-month",
        )
    if traffic is not None:
        return _profile_file(traffic, manifest)
    if manifest.traffic is None:
        raise UsageError(
            f"{manifest.path} has no traffic: section; add one, or pass --traffic FILE or "
            "--requests-per-month N"
        )
    return profile_from_spec(manifest.traffic, manifest.directory, f"{manifest.path}: traffic")


def _profile_file(path: str, manifest: Manifest) -> TrafficProfile:
    if path.lower().endswith(".csv"):
        return TrafficProfile(hourly=read_counts(Path(path)), origin=path)
    from modelstack.cost.traffic import spec_from_mapping
    from modelstack.manifest.source import load_source

    spec = spec_from_mapping(load_source(path).data, path)
    return profile_from_spec(spec, Path(path).resolve().parent, path)


def _overrides(prices: str | None) -> list[PriceTable]:
    return load_tables(prices) if prices else []


def cost(
    manifest: str,
    *,
    target: str | None = None,
    traffic: str | None = None,
    requests_per_month: float | None = None,
    duration_ms: float | None = None,
    free_tier: bool = True,
    prices: str | None = None,
    measure: bool = False,
    base_image: str | None = None,
    ca_bundle: str | None = None,
    fmt: str = "text",
    chart: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Print the monthly cost of every option for the target; return 0."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    for name, value in (
        ("--requests-per-month", requests_per_month),
        ("--duration-ms", duration_ms),
    ):
        if value is not None and not (value >= 0 and value < float("inf")):
            raise UsageError(f"{name} must be a finite number, 0 or more, not {value}")
    if duration_ms is not None and duration_ms <= 0:
        raise UsageError("--duration-ms must be more than 0")
    loaded = load_manifest(manifest)
    chosen = select_target(loaded, target, default="cloud")
    overrides = _overrides(prices)
    profile = _profile(loaded, traffic, requests_per_month)
    stream = out or sys.stdout
    measured = None
    if measure:
        from modelstack.cost.measure import measure_target

        measured = measure_target(
            loaded,
            chosen,
            profile,
            overrides=overrides,
            base_image=base_image,
            ca_bundle=ca_bundle,
        )
        (stream if fmt == "text" else sys.stderr).write(measured.table() + "\n\n")
        if profile.init_ms is None:
            profile = replace(profile, init_ms=measured.init_for())
    chosen_duration = _duration(loaded, chosen, profile, duration_ms, measured)
    profile = profile.with_duration(chosen_duration)
    estimate = estimate_target(chosen, profile, overrides=overrides, free_tier=free_tier)
    report = report_dict(
        estimate,
        break_even=break_even(estimate, chosen, overrides=overrides, free_tier=free_tier),
        curves=curve(estimate, chosen, overrides=overrides, free_tier=free_tier),
    )
    if measured is not None:
        report["measurement"] = measured.to_dict()
    if chart is not None:
        from modelstack.cost.chart import write_chart

        write_chart(report, chart)
    if fmt == "json":
        stream.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    elif fmt == "markdown":
        stream.write(report_markdown(report))
    else:
        stream.write(report_text(report))
    return 0


def _duration(
    manifest: Manifest,
    target: Target,
    profile: TrafficProfile,
    flag: float | None,
    measured: object | None,
) -> float:
    if flag is not None:
        return flag
    if measured is not None:
        from modelstack.cost.measure import Measurement

        assert isinstance(measured, Measurement)
        return measured.duration_for(target)
    if profile.duration_ms is not None:
        return profile.duration_ms
    recorded = read_latency(manifest, target)
    if recorded is not None:
        return recorded
    raise CostError(
        "no latency to price with: run `modelstack cost --measure` (it records the p50 in "
        ".modelstack/cost/), set traffic.duration_ms to a measured p50, or pass --duration-ms"
    )
