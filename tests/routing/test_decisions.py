"""The routing decisions as pure functions: escalation conditions, first-match routes and
sticky variants."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from modelstack_runtime.codec import InferRequest
from modelstack_runtime.errors import ConfigError
from modelstack_runtime.routing import entropy, pick_route, pick_variant, should_escalate
from modelstack_runtime.routing_config import RouteRule, routing_config

probabilities = hnp.arrays(
    np.float32,
    st.tuples(st.integers(1, 5), st.integers(1, 6)),
    elements=st.floats(0, 1, width=32),
)


@settings(max_examples=200, deadline=None)
@given(probabilities, st.floats(0, 1))
def test_max_prob_and_margin_escalate_when_any_row_is_below(p: np.ndarray, t: float) -> None:
    rows = [sorted(map(float, row), reverse=True) for row in p]
    assert should_escalate("max_prob_below", t, p) == any(r[0] < t for r in rows)
    wanted = any(len(r) > 1 and r[0] - r[1] < t for r in rows)
    assert should_escalate("margin_below", t, p) == wanted


@settings(max_examples=200, deadline=None)
@given(probabilities, st.floats(0, 3))
def test_entropy_matches_its_definition(p: np.ndarray, t: float) -> None:
    reference = [-sum(float(v) * math.log(v) for v in row if v > 0) for row in p]
    np.testing.assert_allclose(entropy(p), reference, rtol=1e-9, atol=1e-12)
    assert should_escalate("entropy_above", t, p) == any(e > t for e in entropy(p))


@given(
    hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e6, 1e6)), st.floats(-1e6, 1e6)
)
def test_value_conditions_compare_every_value(values: np.ndarray, t: float) -> None:
    assert should_escalate("value_above", t, values) == bool((values > t).any())
    assert should_escalate("value_below", t, values) == bool((values < t).any())


def test_uniform_probabilities_escalate_and_a_sure_answer_does_not() -> None:
    uniform, sure = np.full((1, 4), 0.25), np.array([[0.97, 0.01, 0.01, 0.01]])
    assert should_escalate("max_prob_below", 0.8, uniform)
    assert not should_escalate("max_prob_below", 0.8, sure)
    assert should_escalate("entropy_above", 1.0, uniform)  # ln 4 ~ 1.386
    assert not should_escalate("entropy_above", 1.0, sure)
    assert not should_escalate("max_prob_below", 0.8, np.zeros((0, 3)))  # nothing to judge


def _request(**inputs: np.ndarray) -> InferRequest:
    return InferRequest(id=None, inputs=dict(inputs), outputs=None)


def test_the_first_matching_route_wins_and_none_means_self() -> None:
    rules = (
        RouteRule("gpu", "input", name="x", dim=0, threshold=4),
        RouteRule("big", "elements_above", threshold=3),
        RouteRule("hdr", "header", name="X-Tier", equals="hdr"),
    )
    wide, tall = _request(x=np.zeros((1, 8))), _request(x=np.zeros((8, 1)))
    assert pick_route(rules, 10, tall, {}) == "gpu"
    assert pick_route(rules, 10, wide, {}) == "big"
    assert pick_route(rules, 10, _request(x=np.zeros((1, 2))), {"x-tier": "hdr"}) == "hdr"
    assert pick_route(rules, 10, _request(x=np.zeros((1, 2))), {}) is None


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.integers(0, 100))
def test_the_same_key_always_gets_the_same_variant(key: str, a: int) -> None:
    weights = {"self": a, "large": 100 - a}
    variant = pick_variant(key, weights)
    assert variant == pick_variant(key, dict(reversed(list(weights.items()))))
    assert weights[variant] > 0


@pytest.mark.parametrize("weights", [{"self": 90, "large": 10}, {"self": 50, "b": 25, "c": 25}])
def test_variants_follow_the_weights_over_2000_keys(weights: dict[str, int]) -> None:
    counts = Counter(pick_variant(f"user-{i}", weights) for i in range(2000))
    for name, weight in weights.items():
        share = counts[name] / 2000
        # binomial standard deviation at n=2000 is at most 1.1 points; allow 3.5
        assert abs(share - weight / 100) < 0.035, (name, share)


def test_runtime_routing_config_refuses_a_tier_without_url() -> None:
    with pytest.raises(ConfigError, match="tier 'large' without a url"):
        routing_config(
            {
                "tiers": {},
                "escalate": [
                    {"to": "large", "output": "p", "condition": "max_prob_below", "threshold": 0.5}
                ],
            }
        )
    with pytest.raises(ConfigError, match="http://HOST:PORT"):
        routing_config({"tiers": {"large": {"url": "ftp://x", "model_name": "m"}}})
