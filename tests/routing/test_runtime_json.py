"""The runtime's routing object, built from the manifest's section, is what the runtime reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from test_routing_spec import FULL, sections

from modelstack.errors import ManifestError
from modelstack.routing.runtime_json import DeployedTier, runtime_routing
from modelstack.routing.spec import parse_routing
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.routing_config import routing_config

HERE = Path("/bundle/small")


def test_the_full_section_reaches_the_runtime_unchanged() -> None:
    spec = parse_routing(FULL, HERE)
    assert spec is not None
    data = runtime_routing(spec, {"large": DeployedTier("http://127.0.0.1:8081", "digits-large")})
    config = RuntimeConfig.from_dict(
        json.loads(
            json.dumps(
                {"model_name": "s", "model_version": "1", "model_path": "m", "routing": data}
            )
        )
    )
    assert config.routing is not None
    runtime = routing_config(config.routing)
    large = runtime.tiers["large"]
    assert (large.host, large.port, large.model_name, large.timeout_ms) == (
        "127.0.0.1",
        8081,
        "digits-large",
        500,
    )
    assert [(r.to, r.condition, r.threshold) for r in runtime.escalate] == [
        ("large", "max_prob_below", 0.8)
    ]
    assert [(r.kind, r.name, r.dim, r.threshold, r.equals) for r in runtime.route] == [
        ("input_bytes_above", None, None, 100000.0, None),
        ("input", "x", 0, 8.0, None),
        ("parameter", "tier", None, None, "large"),
        ("header", "x-tier", None, None, "large"),
    ]
    assert runtime.split is not None and runtime.split.weights == {"self": 90, "large": 10}
    assert runtime.on_tier_failure == "fail"


def test_a_tier_in_use_must_be_deployed() -> None:
    spec = parse_routing(FULL, HERE)
    assert spec is not None
    with pytest.raises(ManifestError, match="tier\\(s\\) large have no deployed address"):
        runtime_routing(spec, {})


@settings(max_examples=60, deadline=None)
@given(sections())
def test_every_valid_section_gives_a_runtime_object_the_runtime_accepts(
    raw: dict[str, Any],
) -> None:
    spec = parse_routing(raw, HERE)
    assert spec is not None
    deployed = {
        n: DeployedTier(f"http://127.0.0.1:{9000 + i}", n) for i, n in enumerate(spec.tiers)
    }
    runtime = routing_config(json.loads(json.dumps(runtime_routing(spec, deployed))))
    assert set(runtime.tiers) == set(spec.tiers)
    assert runtime.on_tier_failure == spec.on_tier_failure
    assert len(runtime.escalate) == len(spec.escalate) and len(runtime.route) == len(spec.route)
