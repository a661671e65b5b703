"""AWS Lambda prices: on demand, and with provisioned concurrency (PC).

Billable quantities come first (`LambdaUsage`, from a traffic profile), then prices apply to
them (`price_on_demand`, `price_provisioned`), so each formula can be checked against the
worked examples on aws.amazon.com/lambda/pricing. Durations are rounded up to the millisecond
and memory counts as memory_mb / 1024 GB, as AWS bills them. Container images are billed for
INIT: each cold start adds its init duration at the function's memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from modelstack.cost.options import CostLine, OptionCost
from modelstack.cost.prices import PriceTable
from modelstack.cost.traffic import HOURS_PER_MONTH, HOURS_PER_WEEK, TrafficProfile
from modelstack.providers.aws_lambda.schedules import provisioned_levels
from modelstack.providers.aws_lambda.target import AwsLambdaTarget

__all__ = [
    "LambdaUsage",
    "cold_starts_per_week",
    "lambda_usage",
    "price_on_demand",
    "price_provisioned",
    "provisioned_usage",
]

_WEEK_TO_MONTH = HOURS_PER_MONTH / HOURS_PER_WEEK
_FREE_STORAGE_MB = 512


@dataclass(frozen=True)
class LambdaUsage:
    requests: float
    gb_seconds: float
    """Execution (and INIT) GB-seconds billed at the on-demand duration price."""
    storage_gb_seconds: float = 0.0
    """Ephemeral storage above the free 512 MB."""
    pc_gb_seconds: float = 0.0
    """Provisioned concurrency kept enabled."""
    pc_execution_gb_seconds: float = 0.0
    """Execution served by provisioned environments (the reduced duration price)."""


def _billed_seconds(duration_ms: float) -> float:
    return math.ceil(duration_ms - 1e-9) / 1000.0


def cold_starts_per_week(hourly: tuple[float, ...], duration_ms: float) -> float:
    """New environments a week: each rise in the concurrency one hour needs over the last."""
    needed = [math.ceil(n / 3600.0 * duration_ms / 1000.0 - 1e-9) if n > 0 else 0 for n in hourly]
    return float(sum(max(0, needed[h] - needed[h - 1]) for h in range(len(needed))))


def lambda_usage(
    target: AwsLambdaTarget, profile: TrafficProfile, duration_ms: float
) -> LambdaUsage:
    """Billable on-demand quantities for a month of `profile`."""
    gb = target.memory_mb / 1024.0
    seconds = _billed_seconds(duration_ms)
    requests = profile.requests_per_month
    init = 0.0
    if profile.init_ms:
        starts = cold_starts_per_week(profile.hourly, duration_ms) * _WEEK_TO_MONTH
        init = starts * _billed_seconds(profile.init_ms) * gb
    extra_gb = max(0, target.ephemeral_storage_mb - _FREE_STORAGE_MB) / 1024.0
    return LambdaUsage(
        requests=requests,
        gb_seconds=requests * seconds * gb + init,
        storage_gb_seconds=requests * seconds * extra_gb,
    )


def provisioned_usage(
    target: AwsLambdaTarget, profile: TrafficProfile, duration_ms: float
) -> tuple[LambdaUsage, float]:
    """PC quantities for a month, and the share of requests that spill over to on demand.

    Each hour, auto scaling keeps PC near `concurrency / target_utilization` within the
    schedule's (or the base) minimum and maximum; requests beyond PC run on demand.
    """
    assert target.provisioned_concurrency is not None
    pc = target.provisioned_concurrency
    mins, maxs = provisioned_levels(pc)
    gb = target.memory_mb / 1024.0
    seconds = _billed_seconds(duration_ms)
    pc_seconds = served = spilled = 0.0
    for hour, count in enumerate(profile.hourly):
        concurrency = count / 3600.0 * duration_ms / 1000.0
        wanted = math.ceil(concurrency / pc.target_utilization - 1e-9)
        level = min(max(wanted, mins[hour]), maxs[hour])
        pc_seconds += level * 3600.0
        share = 1.0 if concurrency <= level else level / concurrency
        served += count * share
        spilled += count * (1.0 - share)
    week = sum(profile.hourly)
    base = lambda_usage(target, profile.scaled_to(spilled * _WEEK_TO_MONTH), duration_ms)
    usage = LambdaUsage(
        requests=week * _WEEK_TO_MONTH,
        gb_seconds=base.gb_seconds,
        storage_gb_seconds=week
        * _WEEK_TO_MONTH
        * seconds
        * max(0, target.ephemeral_storage_mb - _FREE_STORAGE_MB)
        / 1024.0,
        pc_gb_seconds=pc_seconds * gb * _WEEK_TO_MONTH,
        pc_execution_gb_seconds=served * _WEEK_TO_MONTH * seconds * gb,
    )
    return usage, (spilled / week if week else 0.0)


def price_on_demand(
    usage: LambdaUsage, prices: PriceTable, architecture: str, *, free_tier: bool = True
) -> OptionCost:
    request = prices.price("request")
    duration = prices.price(f"duration_{architecture}")
    lines = (
        CostLine("requests", usage.requests, "requests", usage.requests * request),
        CostLine("duration", usage.gb_seconds, "GB-s", usage.gb_seconds * duration),
        CostLine(
            "ephemeral storage",
            usage.storage_gb_seconds,
            "GB-s",
            usage.storage_gb_seconds * prices.price("ephemeral_storage"),
        ),
    )
    credit = 0.0
    if free_tier:
        tier = prices.free_tier
        credit = min(usage.requests, float(tier.get("requests", 0))) * request
        credit += min(usage.gb_seconds, float(tier.get("gb_seconds", 0))) * duration
    return OptionCost("lambda-on-demand", lines, free_tier_usd=credit)


def price_provisioned(usage: LambdaUsage, prices: PriceTable, architecture: str) -> OptionCost:
    """PC, its reduced execution price and on-demand spill-over; no free tier applies."""
    lines = (
        CostLine(
            "provisioned concurrency",
            usage.pc_gb_seconds,
            "GB-s",
            usage.pc_gb_seconds * prices.price(f"provisioned_{architecture}"),
        ),
        CostLine(
            "duration (provisioned)",
            usage.pc_execution_gb_seconds,
            "GB-s",
            usage.pc_execution_gb_seconds * prices.price(f"provisioned_duration_{architecture}"),
        ),
        CostLine(
            "duration (on demand)",
            usage.gb_seconds,
            "GB-s",
            usage.gb_seconds * prices.price(f"duration_{architecture}"),
        ),
        CostLine("requests", usage.requests, "requests", usage.requests * prices.price("request")),
        CostLine(
            "ephemeral storage",
            usage.storage_gb_seconds,
            "GB-s",
            usage.storage_gb_seconds * prices.price("ephemeral_storage"),
        ),
    )
    return OptionCost("lambda-provisioned", lines)
