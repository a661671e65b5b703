"""What one request to each model of a cascade costs, from the cost model (`modelstack/cost/`).

Each model is priced as the target it is served from (the entry's target, and the target each
tier names) with its declared option, at the entry's traffic volume (`traffic:` of the entry,
else :data:`DEFAULT_REQUESTS_PER_MONTH`), without the free tier (a cascade's question is what
one more request costs). The latency priced is the target's `traffic.duration_ms`, else the one
`modelstack cost --measure` recorded. A model that cannot be priced (a local target, no
latency) has no cost, and the reason says why; the cascade's cost is then unknown.

Expected cost per 1,000 requests = 1000 x (entry's cost + sum over tiers of the tier's calls
per entry request x the tier's cost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from modelstack.errors import CostError
from modelstack.manifest.model import Manifest, Target

__all__ = ["DEFAULT_REQUESTS_PER_MONTH", "UnitCost", "cascade_cost_per_1k", "unit_cost"]

DEFAULT_REQUESTS_PER_MONTH: Final = 1_000_000.0


@dataclass(frozen=True)
class UnitCost:
    """One request's cost on one model's target (None with the reason when unknown)."""

    model: str
    usd: float | None
    reason: str = ""


def requests_per_month(manifest: Manifest) -> float:
    if manifest.traffic is None or manifest.traffic.requests_per_month is None:
        return DEFAULT_REQUESTS_PER_MONTH
    return float(manifest.traffic.requests_per_month)


def unit_cost(label: str, manifest: Manifest, target: Target | None, volume: float) -> UnitCost:
    """The cost of one request to `manifest`'s model on `target` at `volume` requests/month."""
    from modelstack.providers import provider_for

    if target is None:
        return UnitCost(label, None, f"{manifest.path}: no cloud target to price")
    if not provider_for(target).is_cloud:
        return UnitCost(label, None, f"{label}: target '{target.name}' is local, with no price")
    from modelstack.cost.estimate import estimate_target
    from modelstack.cost.recorded import read_latency
    from modelstack.cost.traffic import TrafficProfile, profile_from_spec

    try:
        if manifest.traffic is not None:
            profile = profile_from_spec(manifest.traffic, manifest.directory, "traffic")
        else:
            profile = TrafficProfile(hourly=(1.0,) * 168)
        profile = profile.scaled_to(volume)
        if profile.duration_ms is None:
            profile = profile.with_duration(read_latency(manifest, target))
        estimate = estimate_target(target, profile, free_tier=False)
    except CostError as exc:
        return UnitCost(label, None, f"{label}: {exc}")
    option = estimate.option(estimate.declared)
    assert option is not None
    return UnitCost(label, option.monthly_usd / volume)


def cascade_cost_per_1k(entry: UnitCost, tiers: dict[str, tuple[UnitCost, float]]) -> float | None:
    """1000 x the expected cost of a request; `tiers`: name -> (its cost, share reaching it)."""
    if entry.usd is None or any(cost.usd is None for cost, _ in tiers.values()):
        return None
    total = entry.usd + sum((cost.usd or 0.0) * share for cost, share in tiers.values())
    return 1000.0 * total
