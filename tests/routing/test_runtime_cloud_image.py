"""A routed image carries the SDK of each kind of hop it makes, exactly when it makes one.

An aws-lambda entry with an aws-lambda tier needs boto3 (on a base that lacks it); any entry
with a Cloud Run tier needs google-auth (with requests). The manifests are private copies of
the examples (iris: local and aws-lambda targets; digits-gpu: a gcp-cloud-run target).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from example_copies import copy_example

from modelstack.image.context import render_context
from modelstack.image.flavours import AWS_LAMBDA_BASE, flavour_for
from modelstack.image.runtime_requirements import (
    AWS_SDK_REQUIREMENTS,
    GOOGLE_AUTH_REQUIREMENTS,
    requirement_lines,
    runtime_packages,
)
from modelstack.manifest import Manifest, load_manifest
from modelstack.providers.routing_kinds import routing_tier_kinds
from modelstack.smoke.local import prepare_local

SLIM = "modelstack/base-python:bookworm"
EXAMPLE_OF = {"prod": "iris", "local": "iris", "gpu": "digits-gpu"}


def routed(
    tmp_path: Path, entry: str, tier: str, extra: str = "", *, name: str = "entry"
) -> Manifest:
    """A copy of the example with target `entry`, routing to a copy with target `tier`."""
    tier_dir = copy_example(EXAMPLE_OF[tier], tmp_path / f"{name}-tier")
    entry_dir = copy_example(EXAMPLE_OF[entry], tmp_path / name)
    text = (entry_dir / "modelstack.yaml").read_text(encoding="utf-8")
    text += (
        "routing:\n"
        f"  tiers:\n    large: {{to: ../{tier_dir.name}/modelstack.yaml#{tier}}}\n"
        "  route:\n    - {to: large, when: {header: x-tier, equals: large}}\n"
    ) + extra
    (entry_dir / "modelstack.yaml").write_text(text, encoding="utf-8")
    return load_manifest(entry_dir / "modelstack.yaml")


def names(packages: tuple[str, ...]) -> set[str]:
    return {p.split("==")[0] for p in packages}


def test_each_pair_of_targets_makes_its_kind_of_hop(tmp_path: Path) -> None:
    assert routing_tier_kinds(routed(tmp_path, "prod", "prod", name="a"), "prod") == ("aws-lambda",)
    assert routing_tier_kinds(routed(tmp_path, "prod", "gpu", name="b"), "prod") == (
        "cloud-run-federated",
    )
    assert routing_tier_kinds(routed(tmp_path, "gpu", "gpu", name="c"), "gpu") == ("cloud-run",)
    assert routing_tier_kinds(routed(tmp_path, "local", "prod", name="d"), "local") == ()


@pytest.mark.parametrize(
    ("entry", "tier", "base", "wanted"),
    [
        ("prod", "prod", SLIM, {"boto3", "botocore"}),
        ("prod", "prod", AWS_LAMBDA_BASE, set()),  # AWS's base ships boto3
        ("prod", "gpu", AWS_LAMBDA_BASE, {"google-auth", "cryptography"}),
        ("gpu", "gpu", SLIM, {"google-auth", "requests"}),
        ("local", "prod", SLIM, set()),  # a local entry's tiers are plain HTTP
    ],
)
def test_the_sdk_is_added_exactly_when_a_hop_needs_it(
    tmp_path: Path, entry: str, tier: str, base: str, wanted: set[str]
) -> None:
    manifest = routed(tmp_path, entry, tier)
    packages = runtime_packages(manifest, entry, flavour_for(manifest.targets[entry]), base)
    assert wanted <= names(packages)
    assert ("boto3" in names(packages)) == ("boto3" in wanted)
    assert ("google-auth" in names(packages)) == ("google-auth" in wanted)
    assert all(re.fullmatch(r"[a-z0-9-]+==[0-9a-z.]+", p) for p in packages)  # pinned


def test_without_routing_nothing_is_added(tmp_path: Path) -> None:
    manifest = load_manifest(copy_example("iris", tmp_path / "iris") / "modelstack.yaml")
    assert runtime_packages(manifest, "prod", flavour_for(manifest.targets["prod"]), SLIM) == ()


def test_events_and_routing_add_the_aws_sdk_once_and_the_manifests_pin_wins(
    tmp_path: Path,
) -> None:
    events = "events:\n  - {name: q, queue: {}, output: {bucket: out-b}}\n"
    manifest = routed(tmp_path, "prod", "prod", events)
    flavour = flavour_for(manifest.targets["prod"])
    packages = runtime_packages(manifest, "prod", flavour, SLIM)
    assert packages == requirement_lines(AWS_SDK_REQUIREMENTS)  # once, in the file's order
    text = (manifest.path).read_text(encoding="utf-8")
    pinned = text.replace("runtime:\n", "build:\n  python_packages: [boto3==1.40.0]\nruntime:\n")
    manifest.path.write_text(pinned, encoding="utf-8")
    own = runtime_packages(load_manifest(manifest.path), "prod", flavour, SLIM)
    assert "boto3" not in names(own) and "botocore" in names(own)


def test_the_built_requirements_carry_google_auth_for_a_cloud_run_tier(tmp_path: Path) -> None:
    manifest = routed(tmp_path, "prod", "gpu")
    context = render_context(
        manifest, "prod", flavour_for(manifest.targets["prod"]), prepare_local(manifest),
        base_image=SLIM,
    )  # fmt: skip
    requirements = context.files["requirements.txt"].decode()  # type: ignore[union-attr]
    lines = requirements.splitlines()
    for line in requirement_lines(GOOGLE_AUTH_REQUIREMENTS):
        assert lines.count(line) == 1, line
    assert "awslambdaric==" in requirements and "\nboto3==" not in requirements
