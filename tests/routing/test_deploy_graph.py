"""The deployment graph of a routed manifest: order, each tier once, cycles, and addresses."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_lint_routing import bundle, manifest, routed

from modelstack.errors import ManifestError, UsageError
from modelstack.manifest import load_manifest
from modelstack.providers.local.target import LocalTarget
from modelstack.routing.deploy_graph import deploy_order, routing_object, tiers_elsewhere

CLOUD = "targets:\n  local: {provider: local}\n  prod: {provider: aws-lambda, region: eu-west-1}\n"


def tiers(*names: str) -> str:
    lines = "".join(f"    {n}: {{to: ../{n}/modelstack.yaml#local}}\n" for n in names)
    rules = "".join(
        f"    - {{to: {n}, output: probabilities, when: {{max_prob_below: 0.8}}}}\n" for n in names
    )
    return "routing:\n  tiers:\n" + lines + "  escalate:\n" + rules


def with_port(text: str, port: int) -> str:
    return text.replace("local: {provider: local}", f"local: {{provider: local, port: {port}}}")


def test_tiers_of_a_tier_come_before_it_and_a_shared_tier_once(tmp_path: Path) -> None:
    bundle(tmp_path, "xl", manifest("xl"))
    bundle(tmp_path, "large", manifest("large", tiers("xl")))
    bundle(tmp_path, "medium", manifest("medium", tiers("xl")))
    entry = bundle(tmp_path, "small", manifest("small", tiers("large", "medium")))
    order = deploy_order(load_manifest(entry))
    assert [n.path for n in order] == ["large/xl", "large", "medium"]
    assert [n.manifest.name for n in order] == ["xl", "large", "medium"]
    assert {n.target.name for n in order} == {"local"}


def test_a_manifest_without_routing_has_no_tiers(tmp_path: Path) -> None:
    assert deploy_order(load_manifest(bundle(tmp_path, "alone", manifest("alone")))) == []
    assert routing_object(load_manifest(tmp_path / "alone" / "modelstack.yaml"), _local()) is None


def test_a_tier_routing_back_to_the_entry_is_refused_as_a_cycle(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large", routed("../small/modelstack.yaml#local")))
    entry = bundle(tmp_path, "small", manifest("small", routed()))
    with pytest.raises(ManifestError, match=r"cycle \(small -> large -> small\)"):
        deploy_order(load_manifest(entry))


def test_a_missing_tier_target_names_the_targets_it_has(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    entry = bundle(tmp_path, "small", manifest("small", routed("../large/modelstack.yaml#gpu")))
    with pytest.raises(ManifestError) as caught:
        deploy_order(load_manifest(entry))
    assert f"{entry}:11:" in str(caught.value)  # the tier's `to:` line
    assert "has no target 'gpu' (its targets: local)" in str(caught.value)


def test_routing_object_carries_each_local_tier_address_and_model_name(tmp_path: Path) -> None:
    bundle(tmp_path, "large", with_port(manifest("large"), 18123))
    entry = load_manifest(bundle(tmp_path, "small", manifest("small", routed())))
    routing = routing_object(entry, entry.targets["local"])
    assert routing is not None
    assert routing["tiers"] == {
        "large": {"url": "http://127.0.0.1:18123", "model_name": "large", "timeout_ms": 2000}
    }
    assert routing["escalate"][0]["threshold"] == 0.8


def test_a_cloud_entry_gets_its_tiers_without_urls_from_its_environment(tmp_path: Path) -> None:
    local = "targets:\n  local: {provider: local}\n"
    bundle(tmp_path, "large", manifest("large").replace(local, CLOUD))
    text = manifest("small", routed("../large/modelstack.yaml#prod")).replace(local, CLOUD)
    entry = load_manifest(bundle(tmp_path, "small", text))
    routing = routing_object(entry, entry.targets["prod"])
    assert routing is not None
    assert routing["tiers"] == {"large": {"model_name": "large", "timeout_ms": 2000}}
    assert tiers_elsewhere(routing)
    assert not tiers_elsewhere(None)


def test_a_cloud_entry_cannot_call_a_local_tier(tmp_path: Path) -> None:
    bundle(tmp_path, "large", manifest("large"))
    text = manifest("small", routed()).replace("targets:\n  local: {provider: local}\n", CLOUD)
    entry = load_manifest(bundle(tmp_path, "small", text))
    with pytest.raises(UsageError, match=r"which the entry's aws-lambda target cannot call"):
        routing_object(entry, entry.targets["prod"])


def test_a_cloud_tier_and_a_lambda_flavoured_tier_are_usage_errors(tmp_path: Path) -> None:
    local = "targets:\n  local: {provider: local}\n"
    bundle(tmp_path, "large", manifest("large").replace(local, CLOUD))
    text = manifest("small", routed("../large/modelstack.yaml#prod"))
    entry = load_manifest(bundle(tmp_path, "small", text))
    with pytest.raises(UsageError, match=r"\(large on prod\) runs on aws-lambda, which a service"):
        routing_object(entry, entry.targets["local"])

    lambda_flavour = "targets:\n  local: {provider: local, flavour: lambda}\n"
    bundle(tmp_path, "large", manifest("large").replace(local, lambda_flavour))
    entry = load_manifest(bundle(tmp_path, "small", manifest("small", routed())))
    with pytest.raises(UsageError, match=r"give target 'local' of .* `flavour: http`"):
        routing_object(entry, entry.targets["local"])


def _local() -> LocalTarget:
    return LocalTarget(name="local")


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    """Up to 5 tiers t0..t4 below the entry, each routing only to higher-numbered ones."""
    count = draw(st.integers(min_value=1, max_value=5))
    names = [f"t{i}" for i in range(count)]
    edges = {
        name: draw(st.lists(st.sampled_from(names[i + 1 :]), unique=True)) if i + 1 < count else []
        for i, name in enumerate(names)
    }
    edges["entry"] = draw(st.lists(st.sampled_from(names), min_size=1, unique=True))
    return edges


@settings(max_examples=12, deadline=None)
@given(dags())
def test_every_reachable_tier_is_deployed_once_after_its_own_tiers(
    edges: dict[str, list[str]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for name, below in edges.items():
            bundle(root, name, manifest(name, tiers(*below) if below else ""))
        order = [
            n.manifest.name for n in deploy_order(load_manifest(root / "entry" / "modelstack.yaml"))
        ]

    reachable: set[str] = set()
    stack = list(edges["entry"])
    while stack:
        name = stack.pop()
        if name not in reachable:
            reachable.add(name)
            stack += edges[name]
    assert sorted(order) == sorted(reachable)  # each reachable tier, once
    for position, name in enumerate(order):
        assert set(edges[name]) <= set(order[:position])  # its own tiers came first
