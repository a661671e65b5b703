"""The manifest's `routing:` section as frozen, typed objects.

```yaml
routing:
  tiers:
    large: {to: ../large/modelstack.yaml#local, timeout_ms: 2000}
  escalate: [{to: large, output: probabilities, when: {max_prob_below: 0.8}}]
  route: [{to: large, when: {input_bytes_above: 100000}}]
  split: {key: {header: x-user-id}, weights: {self: 90, large: 10}}
  on_tier_failure: fallback
```

`parse_routing` reads a schema-valid section and checks what the schema cannot say (a rule
naming an unknown tier, weights that do not sum to 100); lint reports the same problems with
their positions (rules MS910-MS929). Nothing here imports anything heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import ManifestError

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest

__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "ESCALATE_CONDITIONS",
    "MAX_TIMEOUT_MS",
    "ON_TIER_FAILURE",
    "PROBABILITY_CONDITIONS",
    "ROUTE_KINDS",
    "SELF",
    "EscalateRule",
    "RouteRule",
    "RoutingSpec",
    "Split",
    "Tier",
    "parse_routing",
    "routing_of",
    "split_tier_ref",
]

SELF: Final = "self"
"""The name of this service itself in `split.weights` (and the default route)."""
DEFAULT_TIMEOUT_MS: Final = 2000
MAX_TIMEOUT_MS: Final = 60000
ESCALATE_CONDITIONS: Final = (
    "max_prob_below",
    "margin_below",
    "entropy_above",
    "value_above",
    "value_below",
)
PROBABILITY_CONDITIONS: Final = ("max_prob_below", "margin_below", "entropy_above")
"""Conditions that read the output as class probabilities (one row per item)."""
ROUTE_KINDS: Final = ("input_bytes_above", "elements_above", "input", "parameter", "header")
ON_TIER_FAILURE: Final = ("fallback", "fail")


@dataclass(frozen=True)
class Tier:
    """Another ModelService manifest and one of its targets that requests may go to."""

    name: str
    manifest_path: Path
    """Resolved against the routed manifest's directory."""
    target: str
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    """Per hop: how long the forwarder waits for this tier's answer."""


@dataclass(frozen=True)
class EscalateRule:
    """Send the request on to tier `to` when `output` of the answer so far meets the condition."""

    to: str
    output: str
    condition: str
    """One of ESCALATE_CONDITIONS."""
    threshold: float


@dataclass(frozen=True)
class RouteRule:
    """Send the request straight to tier `to` when it matches (first match wins).

    kind: input_bytes_above (threshold), elements_above (threshold), input (name, dim,
    threshold), parameter (name, equals) or header (name, equals).
    """

    to: str
    kind: str
    name: str | None = None
    dim: int | None = None
    threshold: float | None = None
    equals: str | int | float | bool | None = None


@dataclass(frozen=True)
class Split:
    """A sticky A/B split: the hash of the key picks the variant."""

    key_kind: str
    """header or parameter."""
    key_name: str
    weights: dict[str, int]
    """Variant (a tier name or `self`) -> percentage; they sum to 100."""


@dataclass(frozen=True)
class RoutingSpec:
    tiers: dict[str, Tier]
    escalate: tuple[EscalateRule, ...] = ()
    route: tuple[RouteRule, ...] = ()
    split: Split | None = None
    on_tier_failure: str = "fallback"
    """fallback: answer with this service's own result; fail: answer 503."""

    def used_tiers(self) -> list[str]:
        """Tier names some rule sends requests to, in first-use order."""
        names = [r.to for r in self.escalate] + [r.to for r in self.route]
        if self.split is not None:
            names += [n for n in self.split.weights if n != SELF]
        return list(dict.fromkeys(names))


def split_tier_ref(ref: str) -> tuple[str, str]:
    """`path#target` -> (path, target); ManifestError when either part is missing."""
    path, sep, target = ref.rpartition("#")
    if not sep or not path or not target:
        raise ManifestError(
            f"routing tier '{ref}': write the manifest path and the target as PATH#TARGET, "
            "such as ../large/modelstack.yaml#local"
        )
    return path, target


def parse_routing(raw: Mapping[str, Any] | None, manifest_dir: Path) -> RoutingSpec | None:
    """The typed `routing:` section, or None without one.

    `raw` has passed the schema; ManifestError names what else is wrong (a rule naming an
    unknown tier, weights that do not sum to 100) and how to fix it.
    """
    if raw is None:
        return None
    tiers = {name: _tier(name, t, manifest_dir) for name, t in raw.get("tiers", {}).items()}
    spec = RoutingSpec(
        tiers=tiers,
        escalate=tuple(_escalate(e) for e in raw.get("escalate", ())),
        route=tuple(_route(r) for r in raw.get("route", ())),
        split=_split(raw["split"]) if "split" in raw else None,
        on_tier_failure=str(raw.get("on_tier_failure", "fallback")),
    )
    _check(spec)
    return spec


def _tier(name: str, d: Mapping[str, Any], manifest_dir: Path) -> Tier:
    path, target = split_tier_ref(str(d["to"]))
    return Tier(
        name=name,
        manifest_path=(manifest_dir / path),
        target=target,
        timeout_ms=int(d.get("timeout_ms", DEFAULT_TIMEOUT_MS)),
    )


def _only_key(when: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> str:
    keys = [k for k in allowed if k in when]
    if len(keys) != 1:
        raise ManifestError(f"routing {where}.when: give exactly one of {', '.join(allowed)}")
    return keys[0]


def _escalate(d: Mapping[str, Any]) -> EscalateRule:
    when = d["when"]
    condition = _only_key(when, ESCALATE_CONDITIONS, "escalate")
    return EscalateRule(
        to=str(d["to"]),
        output=str(d["output"]),
        condition=condition,
        threshold=float(when[condition]),
    )


def _route(d: Mapping[str, Any]) -> RouteRule:
    when = d["when"]
    kind = _only_key(when, ROUTE_KINDS, "route")
    to = str(d["to"])
    if kind in ("input_bytes_above", "elements_above"):
        return RouteRule(to=to, kind=kind, threshold=float(when[kind]))
    if kind == "input":
        if "dim" not in when or "above" not in when:
            raise ManifestError("routing route.when.input: give dim and above as well")
        return RouteRule(
            to=to,
            kind=kind,
            name=str(when["input"]),
            dim=int(when["dim"]),
            threshold=float(when["above"]),
        )
    if "equals" not in when:
        raise ManifestError(f"routing route.when.{kind}: give equals as well")
    return RouteRule(to=to, kind=kind, name=str(when[kind]), equals=when["equals"])


def _split(d: Mapping[str, Any]) -> Split:
    key = d["key"]
    kind = _only_key(key, ("header", "parameter"), "split")
    return Split(
        key_kind=kind,
        key_name=str(key[kind]),
        weights={str(k): int(v) for k, v in d["weights"].items()},
    )


def _check(spec: RoutingSpec) -> None:
    known = set(spec.tiers)
    for name in spec.used_tiers():
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise ManifestError(
                f"routing names tier '{name}', which routing.tiers does not define "
                f"(defined: {listed}); add it under routing.tiers or fix the name"
            )
    if spec.split is not None:
        total = sum(spec.split.weights.values())
        if total != 100:
            raise ManifestError(f"routing.split.weights sum to {total}; make them sum to 100")
    if spec.on_tier_failure not in ON_TIER_FAILURE:
        raise ManifestError(f"routing.on_tier_failure: use one of {', '.join(ON_TIER_FAILURE)}")


def routing_of(manifest: Manifest) -> RoutingSpec | None:
    """The manifest's typed `routing:` section (None without one); tier paths resolved."""
    raw = manifest.source.data.get("routing")
    return parse_routing(raw, manifest.directory)
