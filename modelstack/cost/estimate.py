"""The monthly cost of a target as declared, and of its alternatives, for a traffic profile.

The target's provider says which options apply and prices them (`Provider.prices`, see
`modelstack.cost.pricing`): an aws-lambda target on demand, with its provisioned concurrency
and against reserved EC2 instances; a gcp-cloud-run target with request-based and
instance-based billing and against reserved Compute Engine VMs. The break-even is the monthly
request count, on the profile's weekly shape, from which reserved servers cost less than the
declared option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from modelstack.cost.options import OptionCost
from modelstack.cost.prices import PriceTable
from modelstack.cost.pricing import Pricer, target_pricing
from modelstack.cost.traffic import TrafficProfile
from modelstack.errors import CostError

if TYPE_CHECKING:
    from modelstack.manifest.model import Target

__all__ = ["CURVE_POINTS", "Estimate", "break_even", "curve", "estimate_target"]

CURVE_POINTS: Final = tuple(10.0**e for e in range(3, 11))
"""Requests per month at which the chart shows each option (1 thousand to 10 billion)."""


@dataclass(frozen=True)
class Estimate:
    target: str
    provider: str
    region: str
    declared: str
    """The option the target is configured as."""
    options: tuple[OptionCost, ...]
    tables: tuple[PriceTable, ...]
    profile: TrafficProfile
    duration_ms: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def option(self, name: str) -> OptionCost | None:
        return next((o for o in self.options if o.option == name), None)


def pricer_for(
    target: Target, duration_ms: float, overrides: Sequence[PriceTable], free_tier: bool
) -> tuple[Pricer, str]:
    """A function pricing every option for a profile, and the declared option's name."""
    pricing = target_pricing(target)
    return pricing.pricer(duration_ms, overrides, free_tier), pricing.declared


def estimate_target(
    target: Target,
    profile: TrafficProfile,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> Estimate:
    """Price every option of `target` for `profile` (whose duration_ms must be set)."""
    if profile.duration_ms is None:
        raise CostError(
            "no latency to price with: run `modelstack cost --measure`, set traffic.duration_ms "
            "to a measured p50, or pass --duration-ms"
        )
    pricing = target_pricing(target)
    price = pricing.pricer(profile.duration_ms, overrides or [], free_tier)
    options, tables, notes = price(profile)
    return Estimate(
        target=target.name,
        provider=target.provider,
        region=pricing.region,
        declared=pricing.declared,
        options=tuple(options),
        tables=tuple(tables),
        profile=profile,
        duration_ms=profile.duration_ms,
        notes=tuple(notes),
    )


def curve(
    estimate: Estimate,
    target: Target,
    points: tuple[float, ...] = CURVE_POINTS,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> dict[str, list[float]]:
    """Each option's monthly cost at each request count, on the profile's weekly shape."""
    price, _ = pricer_for(target, estimate.duration_ms, overrides or [], free_tier)
    series: dict[str, list[float]] = {}
    for n in points:
        for option in price(estimate.profile.scaled_to(n))[0]:
            series.setdefault(option.option, []).append(option.monthly_usd)
    return series


def break_even(
    estimate: Estimate,
    target: Target,
    *,
    overrides: list[PriceTable] | None = None,
    free_tier: bool = True,
) -> float | None:
    """Requests per month from which reserved costs less than the declared option, or None."""
    price, declared = pricer_for(target, estimate.duration_ms, overrides or [], free_tier)

    def reserved_cheaper(n: float) -> bool | None:
        costs = {o.option: o.monthly_usd for o in price(estimate.profile.scaled_to(n))[0]}
        if "reserved" not in costs:
            return None
        return costs["reserved"] < costs[declared]

    low = 1.0
    if reserved_cheaper(low):
        return 0.0
    high = low
    while high < 1e12:
        high *= 4
        answer = reserved_cheaper(high)
        if answer is None:
            return None
        if answer:
            break
        low = high
    else:
        return None
    for _ in range(60):
        middle = (low * high) ** 0.5
        if reserved_cheaper(middle):
            high = middle
        else:
            low = middle
        if high / low < 1.001:
            break
    return high
