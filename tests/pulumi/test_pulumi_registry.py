"""The image repository on its own (the first step into an empty account) and the settings
that let a target be removed again: ECR `force_delete`, a deletion-protection override."""

from __future__ import annotations

import pytest
from offline_deploy import DIGITS, ECR_IMAGE, GCP_IMAGE, IRIS, Deploy

from modelstack.pulumi.component import TYPE_TOKEN


@pytest.mark.parametrize(
    ("manifest", "image", "types"),
    [
        (
            IRIS,
            ECR_IMAGE,
            {"aws:ecr/repository:Repository", "aws:ecr/lifecyclePolicy:LifecyclePolicy"},
        ),
        (DIGITS, GCP_IMAGE, {"gcp:artifactregistry/repository:Repository"}),
    ],
    ids=["aws-lambda", "gcp-cloud-run"],
)
def test_registry_only_registers_the_repository_and_nothing_that_serves(
    deploy: Deploy, manifest, image: str, types: set[str]
) -> None:
    full = deploy(manifest=manifest, image=image)
    only = deploy(manifest=manifest, image=image, registry_only=True)
    assert {r.type for r in only.children} == types
    assert only.root.type == TYPE_TOKEN
    # The same URNs as in the full deployment: the next update keeps the repository.
    assert {r.urn for r in only.children} <= {r.urn for r in full.children}
    assert only.outputs["registry"] == full.outputs["registry"] != ""
    assert only.outputs["endpoint"] == "" and only.outputs["candidate_address"] == {}


def test_the_ecr_repository_can_be_deleted_with_its_images(deploy: Deploy) -> None:
    d = deploy(manifest=IRIS, image=ECR_IMAGE)
    assert d.one("ecr/repository:Repository").inputs["forceDelete"] is True


@pytest.mark.parametrize("override", [None, False, True])
def test_deletion_protection_can_be_overridden(deploy: Deploy, override: bool | None) -> None:
    d = deploy(manifest=DIGITS, image=GCP_IMAGE, deletion_protection=override)
    service = d.one("cloudrunv2/service:Service").inputs
    assert service["deletionProtection"] is (True if override is None else override)
