"""MS910-MS912, MS914: the routing section names tiers that exist, and no tier routes back."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ManifestError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.routing.graph import find_cycle, load_tier
from modelstack.routing.spec import SELF, RoutingSpec, routing_of

__all__ = ["RoutingCycle", "RoutingSpecValid", "TierManifest", "TierTarget", "spec_of"]


def spec_of(ctx: LintContext) -> RoutingSpec | None:
    """The typed routing section, or None without one or when it does not parse (MS910)."""
    if ctx.manifest is None or "routing" not in ctx.source.data:
        return None
    try:
        return routing_of(ctx.manifest)
    except ManifestError:
        return None


class RoutingSpecValid(Rule):
    id = "MS910"
    summary = "Routing rules name defined tiers, and split weights sum to 100"
    description = (
        "Every escalate[].to, route[].to and split.weights key (other than self) must be a "
        "tier defined under routing.tiers, and the split weights must sum to 100."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        raw = ctx.source.data.get("routing") if ctx.manifest is not None else None
        if not isinstance(raw, dict):
            return
        tiers = set(raw.get("tiers", {}))
        listed = ", ".join(sorted(tiers)) or "none"
        for section in ("escalate", "route"):
            for index, rule in enumerate(raw.get(section, [])):
                if rule.get("to") not in tiers:
                    yield Finding(
                        ("routing", section, index, "to"),
                        f"'{rule.get('to')}' is not a tier under routing.tiers (defined: "
                        f"{listed}); add it there or fix the name",
                    )
        split = raw.get("split")
        if not isinstance(split, dict):
            return
        weights = split.get("weights", {})
        for name in weights:
            if name != SELF and name not in tiers:
                yield Finding(
                    ("routing", "split", "weights", name),
                    f"split variant '{name}' is neither self nor a tier (defined: {listed})",
                    at_key=True,
                )
        total = sum(int(v) for v in weights.values())
        if total != 100:
            yield Finding(
                ("routing", "split", "weights"),
                f"split weights sum to {total}; make them sum to 100",
            )


class TierManifest(Rule):
    id = "MS911"
    summary = "Each routing tier's manifest exists and is valid"
    description = (
        "routing.tiers.<name>.to names another ModelService manifest by a path relative to "
        "this manifest; it must exist and pass the schema."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = spec_of(ctx)
        if spec is None:
            return
        for name, tier in spec.tiers.items():
            loaded = load_tier(tier)
            if loaded.error is not None:
                yield Finding(
                    ("routing", "tiers", name, "to"),
                    f"{loaded.error}; fix the path (relative to this manifest) or the manifest",
                )


class TierTarget(Rule):
    id = "MS912"
    summary = "Each routing tier names a target its manifest defines"
    description = (
        "The part after '#' in routing.tiers.<name>.to must be a target of the tier's "
        "manifest, such as local."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = spec_of(ctx)
        if spec is None:
            return
        for name, tier in spec.tiers.items():
            loaded = load_tier(tier)
            if loaded.manifest is not None and tier.target not in loaded.manifest.targets:
                targets = ", ".join(sorted(loaded.manifest.targets))
                yield Finding(
                    ("routing", "tiers", name, "to"),
                    f"tier '{name}': its manifest has no target '{tier.target}' "
                    f"(its targets: {targets})",
                )


class RoutingCycle(Rule):
    id = "MS914"
    summary = "No routing tier routes back to this manifest"
    description = (
        "A tier whose own routing (directly or through its tiers) sends requests back to "
        "this manifest would forward a request in a circle."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = spec_of(ctx)
        if spec is None or ctx.manifest is None:
            return
        cycle = find_cycle(ctx.manifest, spec)
        if cycle:
            chain = " -> ".join(["this manifest", *cycle])
            yield Finding(
                ("routing", "tiers", cycle[0], "to"),
                f"routing goes in a circle: {chain}; remove the tier that points back",
            )
