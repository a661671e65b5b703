"""From the typed `routing:` section and the deployed tiers to the runtime config's `routing`
object (the contract with `modelstack_runtime.routing_config`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modelstack.errors import ManifestError
from modelstack.routing.spec import RoutingSpec

__all__ = ["DeployedTier", "runtime_routing"]


@dataclass(frozen=True)
class DeployedTier:
    """Where a tier answers once deployed: its v2 base URL (None: the entry's environment
    gives its address, as a cloud deployment writes it) and its model's name."""

    url: str | None
    model_name: str


def runtime_routing(spec: RoutingSpec, deployed: Mapping[str, DeployedTier]) -> dict[str, Any]:
    """The runtime's `routing` object; ManifestError when a tier in use is not deployed."""
    missing = [name for name in spec.used_tiers() if name not in deployed]
    if missing:
        raise ManifestError(
            f"routing: tier(s) {', '.join(missing)} have no deployed address; deploy them first"
        )
    return {
        "tiers": {
            name: _tier_entry(deployed[name], tier.timeout_ms)
            for name, tier in spec.tiers.items()
            if name in deployed
        },
        "escalate": [
            {"to": r.to, "output": r.output, "condition": r.condition, "threshold": r.threshold}
            for r in spec.escalate
        ],
        "route": [
            {
                "to": r.to,
                "kind": r.kind,
                "name": r.name,
                "dim": r.dim,
                "threshold": r.threshold,
                "equals": r.equals,
            }
            for r in spec.route
        ],
        "split": None
        if spec.split is None
        else {
            "key_kind": spec.split.key_kind,
            "key_name": spec.split.key_name,
            "weights": dict(spec.split.weights),
        },
        "on_tier_failure": spec.on_tier_failure,
    }


def _tier_entry(tier: DeployedTier, timeout_ms: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"model_name": tier.model_name, "timeout_ms": timeout_ms}
    if tier.url is not None:
        entry["url"] = tier.url
    return entry
