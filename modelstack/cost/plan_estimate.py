"""The monthly estimate that `modelstack plan` shows for a manifest's declared traffic.

The declared option's cost is put on the resources that incur it, as the target's provider
says (`TargetPricing.by_resource`): provisioned concurrency on the
ProvisionedConcurrencyConfig, the rest of a Lambda function's cost on the Function, a Cloud
Run service's on the Service. Other resources (repositories, roles, log groups) are not priced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelstack.errors import CostError
from modelstack.manifest.model import Manifest, Target

__all__ = ["PlanEstimate", "plan_estimate"]


@dataclass(frozen=True)
class PlanEstimate:
    by_type: dict[str, float]
    """Monthly USD by the resource type that incurs it."""
    summary: dict[str, Any]
    """The total and what it assumes (option, traffic, duration, price date)."""


def plan_estimate(manifest: Manifest, target: Target) -> PlanEstimate | str | None:
    """The estimate for the declared traffic; a reason when it cannot be made; None without
    a `traffic:` section."""
    if manifest.traffic is None:
        return None
    from modelstack.cost.estimate import estimate_target
    from modelstack.cost.pricing import target_pricing
    from modelstack.cost.recorded import read_latency
    from modelstack.cost.traffic import profile_from_spec

    try:
        profile = profile_from_spec(manifest.traffic, manifest.directory, "traffic")
        if profile.duration_ms is None:
            profile = profile.with_duration(read_latency(manifest, target))
        estimate = estimate_target(target, profile)
    except CostError as exc:
        return f"no monthly estimate: {exc}"
    option = estimate.option(estimate.declared)
    assert option is not None
    by_type = target_pricing(target).by_resource(option)
    summary = {
        "option": estimate.declared,
        "monthly_usd": round(option.monthly_usd, 2),
        "requests_per_month": round(profile.requests_per_month),
        "duration_ms": estimate.duration_ms,
        "price_date": estimate.tables[0].date.isoformat(),
        "region": estimate.region,
    }
    return PlanEstimate(by_type=by_type, summary=summary)
