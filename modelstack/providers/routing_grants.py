"""The tiers a routed cloud target calls, resolved for the grants that let it call them.

A routed service (`routing.tiers`) forwards some requests to other ModelService targets. Each
provider's Pulumi program grants its entry's identity the right to call exactly those tiers
(`aws_lambda/routing_grants.py`, `gcp_cloud_run/routing_grants.py`, and across clouds
`gcp_cloud_run/routing_grants_wif.py`); this module reads the tiers once for all of them.

A tier is named the way its own manifest would deploy it: its resource names come from the
same naming helpers as the tier's own program (`<model>-<target>`, fitted), so the grant names
the function alias or service that the tier's `modelstack up` creates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from modelstack.errors import ManifestError

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest, Target
    from modelstack.routing.spec import RoutingSpec

__all__ = ["TIERS_ENV", "CloudTier", "cloud_tiers"]

TIERS_ENV: Final = "MODELSTACK_ROUTING_TIERS"
"""The entry's environment variable: a JSON object from tier name to its address (the runtime's
`routing_config.TIERS_ENV`)."""


@dataclass(frozen=True)
class CloudTier:
    """One tier of a routed service: its manifest and the target the entry calls."""

    name: str
    manifest: Manifest
    target_name: str
    target: Target
    timeout_ms: int

    @property
    def base(self) -> str:
        """The tier's base resource name, as its own deployment derives it."""
        from modelstack.pulumi.naming import base_name

        return base_name(self.manifest, self.target_name)

    @property
    def slug(self) -> str:
        """The tier's name in the letters, digits and dashes of resource names."""
        return re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-")


def _routing_of(manifest: Manifest) -> RoutingSpec | None:
    from modelstack.routing.spec import parse_routing

    return parse_routing(manifest.source.data.get("routing"), manifest.directory)


def cloud_tiers(manifest: Manifest) -> tuple[CloudTier, ...]:
    """The tiers of `manifest`'s routing (none when it has no `routing:`), in manifest order."""
    if manifest.source.data.get("routing") is None:
        return ()
    routing = _routing_of(manifest)
    if routing is None:
        return ()
    from modelstack.manifest import load_manifest

    tiers: list[CloudTier] = []
    for tier in routing.tiers.values():
        tier_manifest = load_manifest(tier.manifest_path)
        target = tier_manifest.targets.get(tier.target)
        if target is None:
            known = ", ".join(sorted(tier_manifest.targets)) or "none"
            raise ManifestError(
                f"{manifest.path}: routing tier {tier.name!r} names target {tier.target!r}, "
                f"which {tier.manifest_path} does not have (its targets: {known})"
            )
        tiers.append(CloudTier(tier.name, tier_manifest, tier.target, target, tier.timeout_ms))
    return tuple(tiers)
