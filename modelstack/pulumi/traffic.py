"""How traffic is split between the stable version and the candidate, per platform.

The candidate is the version built from the image being deployed. With no stable version (the
first deployment) it is the only version and takes all traffic; otherwise it takes the
candidate percentage and the stable version the rest. 0 % deploys it without traffic (it stays
reachable at its own address for smoke tests), 100 % promotes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "CANDIDATE_TAG",
    "STABLE_TAG",
    "LambdaRouting",
    "cloud_run_traffic",
    "lambda_routing",
]

CANDIDATE_TAG = "candidate"
STABLE_TAG = "stable"
_REVISION = "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION"


@dataclass(frozen=True)
class LambdaRouting:
    """Where the `live` alias points: `primary` is the stable version, or None for the
    candidate; `candidate_weight` (0-1) is the routing-config weight of the candidate."""

    primary: str | None
    candidate_weight: float | None


def lambda_routing(stable: str | None, candidate_percent: int) -> LambdaRouting:
    """The alias configuration for a rollout step."""
    if stable is None or candidate_percent == 100:
        return LambdaRouting(None, None)
    if candidate_percent == 0:
        return LambdaRouting(stable, None)
    return LambdaRouting(stable, round(candidate_percent / 100, 2))


def cloud_run_traffic(
    candidate_revision: str, stable: str | None, candidate_percent: int
) -> list[dict[str, Any]]:
    """The Cloud Run v2 `traffics` list; the candidate always carries the `candidate` tag."""

    def entry(revision: str, percent: int, tag: str) -> dict[str, Any]:
        return {"type": _REVISION, "revision": revision, "percent": percent, "tag": tag}

    if stable is None or stable == candidate_revision:
        return [entry(candidate_revision, 100, CANDIDATE_TAG)]
    return [
        entry(stable, 100 - candidate_percent, STABLE_TAG),
        entry(candidate_revision, candidate_percent, CANDIDATE_TAG),
    ]
