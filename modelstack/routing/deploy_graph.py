"""A routed service's deployment graph: its tiers in the order `up` deploys them (each tier
before whatever routes to it), and where each tier answers once it is deployed.

`up` deploys `deploy_order(...)` one node at a time and then the entry; `destroy` walks the
same list backwards after the entry; `status` shows it. Nothing here imports anything heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeAlias

from modelstack.errors import ManifestError, UsageError
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import provider_for
from modelstack.routing.graph import load_tier
from modelstack.routing.runtime_json import DeployedTier, runtime_routing
from modelstack.routing.spec import Tier, routing_of

__all__ = [
    "MAX_TIER_DEPTH",
    "GraphNode",
    "cloud_tier_address",
    "deploy_order",
    "routing_object",
    "tier_address",
    "tier_routing",
    "tiers_elsewhere",
]

Key: TypeAlias = tuple[Path, str]
"""A tier's manifest file and target name: a tier named twice in a graph is deployed once."""
MAX_TIER_DEPTH: Final = 16
"""How deep tiers may route to further tiers (a longer chain is refused as a likely cycle)."""


@dataclass(frozen=True)
class GraphNode:
    """One tier of the graph: the tier's manifest and the target it is deployed to."""

    path: str
    """The chain of tier names from the entry, such as `large` or `large/xl`."""
    tier: Tier
    manifest: Manifest
    target: Target

    @property
    def key(self) -> Key:
        return (self.manifest.path.resolve(), self.target.name)

    def describe(self) -> str:
        return f"tier '{self.path}' ({self.manifest.name} on {self.target.name})"


def deploy_order(manifest: Manifest) -> list[GraphNode]:
    """Every tier below `manifest`, each manifest-and-target once, tiers of a tier before it
    (depth first, in the order `routing.tiers` lists them); [] for a manifest without routing.

    ManifestError names a tier whose manifest or target cannot be read, and a cycle.
    """
    order: list[GraphNode] = []
    placed: set[Key] = set()

    def visit(current: Manifest, trail: list[str], names: list[str], above: set[Key]) -> None:
        spec = routing_of(current)
        if spec is None:
            return
        for tier in spec.tiers.values():
            node = _node("/".join([*trail, tier.name]), tier, current)
            if node.key in above or node.key[0] == entry:
                chain = " -> ".join([*names, node.manifest.name])
                raise ManifestError(
                    f"{current.path}: routing tiers form a cycle ({chain}); "
                    "a tier must not route back to a service above it"
                )
            if len(trail) + 1 > MAX_TIER_DEPTH:
                raise ManifestError(
                    f"{current.path}: routing tiers nest deeper than {MAX_TIER_DEPTH} levels "
                    f"at {node.describe()}; shorten the chain"
                )
            if node.key in placed:
                continue
            visit(node.manifest, [*trail, tier.name], [*names, node.manifest.name],
                  above | {node.key})  # fmt: skip
            placed.add(node.key)
            order.append(node)

    entry = manifest.path.resolve()
    visit(manifest, [], [manifest.name], set())
    return order


def _node(path: str, tier: Tier, parent: Manifest) -> GraphNode:
    loaded = load_tier(tier)
    where = parent.source.position(("routing", "tiers", tier.name, "to"))
    if loaded.manifest is None:
        raise ManifestError(f"{where}: {loaded.error}; fix the tier's manifest or its path")
    target = loaded.manifest.targets.get(tier.target)
    if target is None:
        known = ", ".join(sorted(loaded.manifest.targets)) or "none"
        raise ManifestError(
            f"{where}: tier '{tier.name}': {loaded.manifest.path} has no target "
            f"'{tier.target}' (its targets: {known}); name one after '#'"
        )
    return GraphNode(path, tier, loaded.manifest, target)


def tier_address(node: GraphNode) -> DeployedTier:
    """Where `node` answers v2 HTTP once deployed; known before it is, for a local tier.

    UsageError for a tier a local entry cannot reach: a cloud tier, or a local Lambda-flavoured
    one (the entry forwards v2 HTTP requests).
    """
    provider = provider_for(node.target)
    if provider.is_cloud:
        raise UsageError(
            f"{node.describe()} runs on {provider.name}, which a service on this machine "
            "does not call; route a local entry to a local target of that manifest"
        )
    address: Mapping[str, Any] = provider.serving_address(node.manifest, node.target, {}) or {}
    if address.get("protocol") != "http":
        raise UsageError(
            f"{node.describe()} serves the Lambda Invoke API, and the entry forwards v2 HTTP "
            f"requests; give target '{node.target.name}' of {node.manifest.path} `flavour: http`"
        )
    return DeployedTier(url=str(address["url"]), model_name=node.manifest.name)


def cloud_tier_address(node: GraphNode, entry: Target, where: str) -> DeployedTier:
    """A cloud entry's tier: its address comes from the entry's environment, which the entry's
    Pulumi program writes (`MODELSTACK_ROUTING_TIERS`); UsageError for a pair of targets that
    no hop connects (a local tier, or a Cloud Run entry calling a Lambda tier)."""
    from modelstack.providers.routing_kinds import tier_kind

    if tier_kind(entry, node.target) is None:
        raise UsageError(
            f"{where}: {node.describe()} is a {node.target.provider} target, which the entry's "
            f"{entry.provider} target cannot call; an aws-lambda entry calls aws-lambda and "
            "gcp-cloud-run tiers, a gcp-cloud-run entry calls gcp-cloud-run tiers"
        )
    return DeployedTier(url=None, model_name=node.manifest.name)


def tiers_elsewhere(routing: Mapping[str, Any] | None) -> bool:
    """Whether a `routing` object's tiers are reached through the environment a cloud
    deployment writes, so this machine cannot call them (its smoke tests serve the entry's
    model alone)."""
    tiers = (routing or {}).get("tiers") or {}
    return any("url" not in tier for tier in tiers.values())


def routing_object(manifest: Manifest, target: Target) -> dict[str, Any] | None:
    """The runtime config's `routing` object for `manifest` served on `target`, its tiers'
    addresses filled in; None for a manifest without routing.

    On a cloud target each tier carries no `url`: the entry's environment gives its address.
    """
    spec = routing_of(manifest)
    if spec is None:
        return None
    if not provider_for(target).is_cloud:
        return tier_routing(manifest)
    deployed = {
        name: cloud_tier_address(_node(name, tier, manifest), target, _where(manifest, name))
        for name, tier in spec.tiers.items()
    }
    return runtime_routing(spec, deployed)


def _where(manifest: Manifest, tier: str) -> str:
    """`file:line:column` of the tier's `to:` in `manifest`."""
    return str(manifest.source.span(["routing", "tiers", tier, "to"]).start(manifest.source.file))


def tier_routing(manifest: Manifest) -> dict[str, Any] | None:
    """The `routing` object with each tier's address, whichever target serves the entry (as
    `modelstack test` runs it in this process); None without routing; UsageError for a tier
    that cannot be reached from this machine (`tier_address`)."""
    spec = routing_of(manifest)
    if spec is None:
        return None
    deployed = {
        name: tier_address(_node(name, tier, manifest)) for name, tier in spec.tiers.items()
    }
    return runtime_routing(spec, deployed)
