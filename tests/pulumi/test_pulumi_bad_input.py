"""Input that ModelService refuses before registering anything, with a message that helps."""

from __future__ import annotations

import dataclasses
import sys

import pytest
from offline_deploy import DIGITS, ECR_IMAGE, FIXTURES, GCP_IMAGE, IRIS, passing_runner

from modelstack.errors import ManifestError, MissingDependencyError, UsageError
from modelstack.manifest import load_manifest
from modelstack.pulumi import ModelService, ModelServiceArgs
from modelstack.pulumi.image import parse_image
from modelstack.pulumi.offline import RecordingMonitor
from modelstack.pulumi.spec import resolve


def build(**fields: object) -> ModelService:
    fields.setdefault("smoke_runner", passing_runner)
    return ModelService("svc", ModelServiceArgs(**fields))  # type: ignore[arg-type]


def test_unknown_target_lists_the_available_ones(monitor: RecordingMonitor) -> None:
    with pytest.raises(UsageError) as raised:
        build(manifest=IRIS, target="staging", image=ECR_IMAGE)
    assert "no target 'staging'" in str(raised.value)
    assert "local (local), prod (aws-lambda)" in str(raised.value)
    assert monitor.recorded == []


def test_local_target_is_not_deployed_through_pulumi() -> None:
    with pytest.raises(UsageError, match="local target"):
        build(manifest=IRIS, target="local", image=ECR_IMAGE)


def test_several_cloud_targets_need_a_choice() -> None:
    with pytest.raises(UsageError, match=r"2 cloud targets.*aws \(aws-lambda\)"):
        build(manifest=FIXTURES / "two-clouds.yaml", image=ECR_IMAGE)


@pytest.mark.parametrize(
    ("module", "manifest", "image", "extra"),
    [
        ("pulumi_aws", IRIS, ECR_IMAGE, "aws"),
        ("pulumi_gcp", DIGITS, GCP_IMAGE, "gcp"),
    ],
)
def test_missing_provider_sdk_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, manifest: object, image: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(MissingDependencyError) as raised:
        build(manifest=manifest, image=image)
    assert f"pip install 'modelstack-serverless[{extra}]'" in str(raised.value)


@pytest.mark.parametrize(
    "reference",
    [
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris:latest",
        "iris:1.0.0",
        "iris",
    ],
)
def test_image_without_digest_is_refused(reference: str) -> None:
    # A tag can move to another image without any Pulumi input changing, so Lambda would keep
    # running the old image; only a digest pins what runs.
    with pytest.raises(UsageError) as raised:
        build(manifest=IRIS, image=reference)
    assert "has no digest" in str(raised.value)
    assert "mutable" in str(raised.value)


def test_malformed_digest_is_refused() -> None:
    with pytest.raises(UsageError, match="not a valid reference"):
        parse_image("repo@sha256:abc")


def test_tag_and_digest_deploys_the_digest() -> None:
    ref = parse_image(f"repo/iris:1.0@sha256:{'c' * 64}")
    assert str(ref) == f"repo/iris@sha256:{'c' * 64}" and ref.tag == "1.0"


def test_manifest_failing_lint_is_refused_with_the_findings(monitor: RecordingMonitor) -> None:
    with pytest.raises(ManifestError) as raised:
        build(manifest=FIXTURES / "lint-errors.yaml", image=GCP_IMAGE)
    message = str(raised.value)
    for rule in ("MS102", "MS401", "MS402"):
        assert rule in message
    assert "lint-errors.yaml:10:11" in message
    assert monitor.recorded == []


def test_loaded_manifest_is_linted_too() -> None:
    manifest = load_manifest(FIXTURES / "lint-errors.yaml")
    with pytest.raises(ManifestError, match="MS102"):
        build(manifest=manifest, image=GCP_IMAGE)


@pytest.mark.parametrize("percent", [-1, 101])
def test_candidate_percent_out_of_range(percent: int) -> None:
    with pytest.raises(UsageError, match="0-100"):
        build(manifest=IRIS, image=ECR_IMAGE, candidate_percent=percent)


def test_provisioned_concurrency_on_a_weighted_alias_is_refused() -> None:
    manifest = load_manifest(IRIS)
    prod = manifest.targets["prod"]
    pc = dataclasses.replace(prod.provisioned_concurrency, attach_to="alias")  # type: ignore[arg-type]
    manifest = dataclasses.replace(
        manifest, targets={"prod": dataclasses.replace(prod, provisioned_concurrency=pc)}
    )
    args = ModelServiceArgs(
        manifest=manifest, image=ECR_IMAGE, stable_version="3", candidate_percent=10, lint=False
    )
    with pytest.raises(UsageError, match="routing weights"):
        resolve(args)
