"""Where a tier answers: the environment's address wins over the file's url; neither is an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from routing_models import softmax_model

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.routing_config import TIERS_ENV, routing_config, tier_addresses

NAMES = st.sampled_from(["large", "gpu", "b", "tier-2"])
WHERE = st.sampled_from(["file", "env", "both", "none"])


def _config(where: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
    tiers = {
        n: {"url": f"http://127.0.0.1:{9000 + i}", "model_name": f"file-{n}", "timeout_ms": 100}
        for i, (n, w) in enumerate(where.items())
        if w in ("file", "both")
    }
    env = {
        n: {
            "kind": "aws-lambda",
            "model_name": f"env-{n}",
            "function_name": n,
            "region": "eu-west-1",
            "timeout_ms": 700,
        }
        for n, w in where.items()
        if w in ("env", "both")
    }
    route = [{"to": n, "kind": "header", "name": "x-tier", "equals": n} for n in where]
    return {"tiers": tiers, "route": route}, {TIERS_ENV: json.dumps(env)} if env else {}


@given(st.dictionaries(NAMES, WHERE, min_size=1))
def test_each_tier_is_addressed_by_exactly_one_rule(where: dict[str, str]) -> None:
    data, environ = _config(where)
    missing = [n for n, w in where.items() if w == "none"]
    if missing:
        with pytest.raises(ConfigError, match=f"tier {missing[0]!r} without a url or an address"):
            routing_config(data, environ)
        return
    config = routing_config(data, environ)
    for name, w in where.items():
        if w == "file":
            assert name in config.tiers and name not in config.addressed
            assert config.tiers[name].model_name == f"file-{name}"
        else:  # the environment's address, also over a url in the file
            assert name in config.addressed and name not in config.tiers
            tier = config.addressed[name]
            assert (tier.model_name, tier.timeout_ms, tier.kind) == (
                f"env-{name}",
                700,
                "aws-lambda",
            )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.one_of(st.text(max_size=40), JSON.map(json.dumps)))
def test_any_environment_value_is_addresses_or_a_config_error(value: str) -> None:
    try:
        addresses = tier_addresses({TIERS_ENV: value})
    except ConfigError as exc:
        assert TIERS_ENV in str(exc)
        return
    assert isinstance(addresses, dict) and all(isinstance(a, dict) for a in addresses.values())
    try:
        config = routing_config({"tiers": {}}, {TIERS_ENV: value})
    except ConfigError as exc:  # an address's timeout_ms out of range, or not a number
        assert "timeout_ms" in str(exc) or "invalid" in str(exc)
        return
    assert set(config.addressed) == set(addresses) and not config.tiers


def test_the_files_model_name_and_timeout_serve_an_address_without_them() -> None:
    data = {"tiers": {"large": {"model_name": "digits-large", "timeout_ms": 300}}}
    environ = {TIERS_ENV: json.dumps({"large": {"kind": "cloud-run", "url": "https://x.run.app"}})}
    tier = routing_config(data, environ).addressed["large"]
    assert (tier.model_name, tier.timeout_ms) == ("digits-large", 300)


def test_a_file_tier_without_url_and_without_address_is_refused_by_name() -> None:
    data = {
        "tiers": {"large": {"model_name": "digits-large"}},
        "escalate": [{"to": "large", "output": "p", "condition": "max_prob_below", "threshold": 1}],
    }
    with pytest.raises(ConfigError, match=f"'large' without a url or an address.*{TIERS_ENV}"):
        routing_config(data, {})


def test_the_server_refuses_to_start_naming_the_tier_and_exits_2(tmp_path: Path) -> None:
    onnx.save(softmax_model(), str(tmp_path / "model.onnx"))
    escalate = [{"to": "large", "output": "p", "condition": "max_prob_below", "threshold": 1}]
    config = {"model_name": "s", "model_version": "1", "model_path": "model.onnx"}
    config["routing"] = {"tiers": {}, "escalate": escalate}
    (tmp_path / "runtime.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k != TIERS_ENV}
    env.update(MODELSTACK_RUNTIME_CONFIG=str(tmp_path / "runtime.json"), PORT="0")
    done = subprocess.run(
        [sys.executable, "-m", "modelstack_runtime"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "tier 'large' without a url or an address" in done.stderr
    assert "Traceback" not in done.stderr
