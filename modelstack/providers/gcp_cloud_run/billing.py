"""Cloud Run prices: request-based and instance-based billing, GPUs, min instances.

Request-based billing charges vCPU and memory while an instance handles requests (each
request's time rounded up to 100 ms, counted alone: an upper bound when requests overlap) plus
a price per request; idle min instances are billed at the idle rates. Instance-based billing
charges every second an instance is alive: each hour, the instances the traffic needs at the
service's concurrency, and never fewer than min_instances. GPUs are billed per second, with or
without zonal redundancy, have no free tier, and need instance-based billing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelstack.cost.options import CostLine, OptionCost
from modelstack.cost.prices import PriceTable
from modelstack.cost.traffic import HOURS_PER_MONTH, HOURS_PER_WEEK, TrafficProfile
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget

__all__ = [
    "CloudRunUsage",
    "instance_usage",
    "price_instance_based",
    "price_request_based",
    "request_usage",
]

_WEEK_TO_MONTH = HOURS_PER_MONTH / HOURS_PER_WEEK


@dataclass(frozen=True)
class CloudRunUsage:
    requests: float
    vcpu_seconds: float
    gib_seconds: float
    gpu_seconds: float = 0.0
    idle_vcpu_seconds: float = 0.0
    idle_gib_seconds: float = 0.0


def _shape(target: CloudRunTarget) -> tuple[float, float, int]:
    gpus = target.gpu.count if target.gpu else 0
    return float(target.cpu), target.memory_mib / 1024.0, gpus


def request_usage(
    target: CloudRunTarget, profile: TrafficProfile, duration_ms: float
) -> CloudRunUsage:
    cpu, gib, _ = _shape(target)
    billed = math.ceil(duration_ms / 100.0 - 1e-9) / 10.0
    busy = idle = 0.0
    for count in profile.hourly:
        seconds = count * billed
        busy += seconds
        idle += max(0.0, target.min_instances * 3600.0 - seconds)
    busy, idle = busy * _WEEK_TO_MONTH, idle * _WEEK_TO_MONTH
    return CloudRunUsage(
        requests=profile.requests_per_month,
        vcpu_seconds=busy * cpu,
        gib_seconds=busy * gib,
        idle_vcpu_seconds=idle * cpu,
        idle_gib_seconds=idle * gib,
    )


def instance_usage(
    target: CloudRunTarget, profile: TrafficProfile, duration_ms: float
) -> CloudRunUsage:
    cpu, gib, gpus = _shape(target)
    alive = 0.0
    for count in profile.hourly:
        busy = count / 3600.0 * duration_ms / 1000.0
        needed = math.ceil(busy / target.concurrency - 1e-9) if count > 0 else 0
        alive += max(target.min_instances, needed, 1 if count > 0 else 0) * 3600.0
    alive *= _WEEK_TO_MONTH
    return CloudRunUsage(
        requests=profile.requests_per_month,
        vcpu_seconds=alive * cpu,
        gib_seconds=alive * gib,
        gpu_seconds=alive * gpus,
    )


def _free(usage: CloudRunUsage, tier: dict[str, float], vcpu: float, gib: float) -> float:
    credit = min(usage.vcpu_seconds, float(tier.get("vcpu_seconds", 0))) * vcpu
    return credit + min(usage.gib_seconds, float(tier.get("gib_seconds", 0))) * gib


def price_request_based(
    usage: CloudRunUsage, prices: PriceTable, *, free_tier: bool = True
) -> OptionCost:
    vcpu = prices.price("request_based_vcpu_second")
    gib = prices.price("request_based_gib_second")
    request = prices.price("request")
    lines = (
        CostLine("vCPU", usage.vcpu_seconds, "vCPU-s", usage.vcpu_seconds * vcpu),
        CostLine("memory", usage.gib_seconds, "GiB-s", usage.gib_seconds * gib),
        CostLine("requests", usage.requests, "requests", usage.requests * request),
        CostLine(
            "idle min instances (vCPU)",
            usage.idle_vcpu_seconds,
            "vCPU-s",
            usage.idle_vcpu_seconds * prices.price("idle_min_instance_vcpu_second"),
        ),
        CostLine(
            "idle min instances (memory)",
            usage.idle_gib_seconds,
            "GiB-s",
            usage.idle_gib_seconds * prices.price("idle_min_instance_gib_second"),
        ),
    )
    credit = 0.0
    if free_tier:
        tier = prices.free_tier.get("request_based", {})
        credit = _free(usage, tier, vcpu, gib)
        credit += min(usage.requests, float(tier.get("requests", 0))) * request
    return OptionCost("cloud-run-request-based", lines, free_tier_usd=credit)


def price_instance_based(
    usage: CloudRunUsage,
    prices: PriceTable,
    *,
    gpu: str | None = None,
    zonal_redundancy: bool = False,
    free_tier: bool = True,
) -> OptionCost:
    vcpu = prices.price("instance_based_vcpu_second")
    gib = prices.price("instance_based_gib_second")
    lines = [
        CostLine("vCPU", usage.vcpu_seconds, "vCPU-s", usage.vcpu_seconds * vcpu),
        CostLine("memory", usage.gib_seconds, "GiB-s", usage.gib_seconds * gib),
    ]
    if gpu is not None:
        name = f"gpu_second_{gpu}" + ("_zonal_redundancy" if zonal_redundancy else "")
        lines.append(
            CostLine(
                f"GPU ({gpu}{', zonal redundancy' if zonal_redundancy else ''})",
                usage.gpu_seconds,
                "GPU-s",
                usage.gpu_seconds * prices.price(name),
            )
        )
    credit = (
        _free(usage, prices.free_tier.get("instance_based", {}), vcpu, gib) if free_tier else 0.0
    )
    return OptionCost("cloud-run-instance-based", tuple(lines), free_tier_usd=credit)
