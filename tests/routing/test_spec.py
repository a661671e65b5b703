"""The `routing:` section: the schema accepts what parse_routing reads, and parse_routing
builds exactly the typed objects (and refuses what the schema cannot say)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.errors import ManifestError
from modelstack.manifest.validator import validate
from modelstack.routing.spec import (
    ESCALATE_CONDITIONS,
    EscalateRule,
    RouteRule,
    RoutingSpec,
    Split,
    Tier,
    parse_routing,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA: dict[str, Any] = json.loads((ROOT / "schemas/modelstack.v1.schema.json").read_text())
ROUTING_SCHEMA: dict[str, Any] = SCHEMA["properties"]["routing"]
HERE = Path("/bundle/small")

FULL: dict[str, Any] = {
    "tiers": {"large": {"to": "../large/modelstack.yaml#local", "timeout_ms": 500}},
    "escalate": [{"to": "large", "output": "probabilities", "when": {"max_prob_below": 0.8}}],
    "route": [
        {"to": "large", "when": {"input_bytes_above": 100000}},
        {"to": "large", "when": {"input": "x", "dim": 0, "above": 8}},
        {"to": "large", "when": {"parameter": "tier", "equals": "large"}},
        {"to": "large", "when": {"header": "x-tier", "equals": "large"}},
    ],
    "split": {"key": {"header": "x-user-id"}, "weights": {"self": 90, "large": 10}},
    "on_tier_failure": "fail",
}


def schema_ok(raw: Any) -> bool:
    ours = not validate(raw, ROUTING_SCHEMA | {"$defs": SCHEMA["$defs"]})
    theirs = jsonschema.Draft202012Validator(ROUTING_SCHEMA).is_valid(raw)
    assert ours == theirs, raw
    return ours


def test_full_section_parses_into_the_typed_objects() -> None:
    assert schema_ok(FULL)
    assert parse_routing(FULL, HERE) == RoutingSpec(
        tiers={"large": Tier("large", HERE / "../large/modelstack.yaml", "local", 500)},
        escalate=(EscalateRule("large", "probabilities", "max_prob_below", 0.8),),
        route=(
            RouteRule("large", "input_bytes_above", threshold=100000.0),
            RouteRule("large", "input", name="x", dim=0, threshold=8.0),
            RouteRule("large", "parameter", name="tier", equals="large"),
            RouteRule("large", "header", name="x-tier", equals="large"),
        ),
        split=Split("header", "x-user-id", {"self": 90, "large": 10}),
        on_tier_failure="fail",
    )


def test_no_section_is_none_and_defaults_apply() -> None:
    assert parse_routing(None, HERE) is None
    spec = parse_routing({"tiers": {"big": {"to": "b.yaml#prod"}}}, HERE)
    assert spec == RoutingSpec(tiers={"big": Tier("big", HERE / "b.yaml", "prod", 2000)})
    assert spec.on_tier_failure == "fallback" and spec.used_tiers() == []


def test_a_rule_naming_an_unknown_tier_is_refused_with_the_defined_ones() -> None:
    raw = {**FULL, "escalate": [{"to": "huge", "output": "p", "when": {"margin_below": 0.1}}]}
    with pytest.raises(ManifestError, match=r"tier 'huge'.*\(defined: large\)"):
        parse_routing(raw, HERE)


def test_weights_must_sum_to_100() -> None:
    raw = {**FULL, "split": {"key": {"parameter": "u"}, "weights": {"self": 90, "large": 20}}}
    with pytest.raises(ManifestError, match="sum to 110; make them sum to 100"):
        parse_routing(raw, HERE)


@pytest.mark.parametrize(
    "when",
    [
        {},
        {"max_prob_below": 0.5, "margin_below": 0.1},
        {"max_prob_below": 1.5},
        {"max_prob_blow": 0.5},
    ],
)
def test_escalate_needs_exactly_one_condition_in_range(when: dict[str, Any]) -> None:
    assert not schema_ok({**FULL, "escalate": [{"to": "large", "output": "p", "when": when}]})


@pytest.mark.parametrize(
    "when",
    [
        {"input": "x", "dim": 0},
        {"parameter": "p"},
        {"header": "h"},
        {"equals": 3},
        {"input_bytes_above": 1, "elements_above": 1},
    ],
)
def test_route_conditions_need_their_companions(when: dict[str, Any]) -> None:
    assert not schema_ok({**FULL, "route": [{"to": "large", "when": when}]})


@pytest.mark.parametrize("name", ["self", "Large", "9x", ""])
def test_tier_names_are_dns_like_and_not_self(name: str) -> None:
    assert not schema_ok({"tiers": {name: {"to": "a.yaml#local"}}})


@pytest.mark.parametrize("ref", ["a.yaml", "#local", "a.yaml#", "a.yaml#Local"])
def test_tier_to_is_path_hash_target(ref: str) -> None:
    assert not schema_ok({"tiers": {"large": {"to": ref}}})


@pytest.mark.parametrize("timeout", [0, 60001])
def test_timeout_bounds(timeout: int) -> None:
    assert not schema_ok({"tiers": {"large": {"to": "a.yaml#l", "timeout_ms": timeout}}})


# -- properties --------------------------------------------------------------------------------

names = st.from_regex(r"\A[a-z][a-z0-9-]{0,6}\Z").filter(lambda n: n != "self")


@st.composite
def sections(draw: st.DrawFn) -> dict[str, Any]:
    tier_names = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    tiers = {
        n: {"to": f"../{n}/modelstack.yaml#local", "timeout_ms": draw(st.integers(1, 60000))}
        for n in tier_names
    }
    escalate = [
        {
            "to": draw(st.sampled_from(tier_names)),
            "output": "probabilities",
            "when": {draw(st.sampled_from(ESCALATE_CONDITIONS)): draw(st.floats(0, 1))},
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    variants = ["self", *tier_names]
    cuts = sorted(
        draw(st.lists(st.integers(0, 100), min_size=len(variants) - 1, max_size=len(variants) - 1))
    )
    bounds = [0, *cuts, 100]
    weights = {v: bounds[i + 1] - bounds[i] for i, v in enumerate(variants)}
    return {
        "tiers": tiers,
        "escalate": escalate,
        "route": [{"to": tier_names[0], "when": {"elements_above": draw(st.integers(0, 99))}}],
        "split": {"key": {"header": "x-user-id"}, "weights": weights},
        "on_tier_failure": draw(st.sampled_from(["fallback", "fail"])),
    }


@settings(max_examples=150, deadline=None)
@given(sections())
def test_every_schema_valid_section_parses_and_keeps_its_values(raw: dict[str, Any]) -> None:
    assert schema_ok(raw)
    spec = parse_routing(raw, HERE)
    assert spec is not None
    assert set(spec.tiers) == set(raw["tiers"])
    for name, tier in spec.tiers.items():
        assert tier.timeout_ms == raw["tiers"][name]["timeout_ms"]
        assert (tier.manifest_path, tier.target) == (HERE / f"../{name}/modelstack.yaml", "local")
    assert [(r.to, r.condition, r.threshold) for r in spec.escalate] == [
        (e["to"], *next(iter(e["when"].items()))) for e in raw["escalate"]
    ]
    assert spec.split is not None and sum(spec.split.weights.values()) == 100
    assert spec.on_tier_failure == raw["on_tier_failure"]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["self", "large"]), st.integers(0, 100), min_size=1))
def test_weights_parse_exactly_when_they_sum_to_100(weights: dict[str, int]) -> None:
    raw = {**FULL, "split": {"key": {"parameter": "u"}, "weights": weights}}
    assert schema_ok(raw)
    if sum(weights.values()) == 100:
        spec = parse_routing(raw, HERE)
        assert spec is not None and spec.split is not None and spec.split.weights == weights
    else:
        with pytest.raises(ManifestError, match="make them sum to 100"):
            parse_routing(raw, HERE)
