"""An image built in the same program reaches the component as an Output."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
from offline_deploy import (
    DIGEST,
    DIGITS,
    ECR_IMAGE,
    IRIS,
    Deploy,
    Deployment,
    FakeSmokeRunner,
    hook_args,
    run_hook,
)

from modelstack.errors import SmokeTestError, UsageError
from modelstack.providers.gcp_cloud_run.program import gate_binding


def test_a_lambda_image_given_as_an_output_is_deployed(deploy: Deploy) -> None:
    built = pulumi.Output.from_input("ignored").apply(lambda _: ECR_IMAGE)  # like docker.Image
    d = deploy(manifest=IRIS, image=built)
    fn = d.one("lambda/function:Function").inputs
    assert fn["imageUri"] == ECR_IMAGE
    assert fn["description"].endswith(f"({DIGEST})")
    assert d.outputs["image"] == ECR_IMAGE and d.outputs["image_digest"] == DIGEST


def test_an_output_image_is_checked_for_a_digest_when_it_resolves() -> None:
    from modelstack.pulumi.spec import _image

    _, checked = _image(pulumi.Output.from_input("repo:latest"))
    failures: list[BaseException] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[None]:
        def expect_refusal(value: str) -> None:
            failures.append(AssertionError(f"accepted {value}"))

        return checked.apply(expect_refusal)

    with pytest.raises(UsageError, match="has no digest"):
        program()
    assert not failures


BUILT_DIGEST = "sha256:" + "cd" * 32


def built_image() -> pulumi.Output[str]:
    """An image whose reference comes from another resource of the same program."""
    images = gcp.artifactregistry.Repository(
        "images", repository_id="images", format="DOCKER", project="p", location="us-central1"
    )
    return images.registry_uri.apply(lambda uri: f"{uri}/digits@{BUILT_DIGEST}")


BUILT_IMAGE = f"us-central1-docker.pkg.dev/p/images/digits@{BUILT_DIGEST}"


def _service(d: Deployment) -> dict[str, Any]:
    return d.one("cloudrunv2/service:Service").inputs


def test_a_cloud_run_image_built_in_the_same_program_is_deployed(deploy: Deploy) -> None:
    d = deploy(manifest=DIGITS, image_from=built_image)
    service = _service(d)
    revision = service["template"]["revision"]
    assert revision.startswith(f"{service['name']}-cdcdcdcdcd-")
    assert service["template"]["containers"][0]["image"] == BUILT_IMAGE
    assert [(t["revision"], t["percent"], t["tag"]) for t in service["traffics"]] == [
        (revision, 100, "candidate")
    ]
    assert d.outputs["candidate_version"] == revision == d.outputs["resource_names"]["revision"]
    address = d.outputs["candidate_address"]
    assert address["revision"] == revision and address["tag"] == "candidate"
    assert address["url"].startswith("https://candidate---")
    assert d.outputs["image"] == BUILT_IMAGE and d.outputs["image_digest"] == BUILT_DIGEST
    invoker = d.one("cloudrunv2/serviceIamMember:ServiceIamMember").inputs
    assert invoker["name"] == service["name"] and invoker["role"] == "roles/run.invoker"
    assert set(d.one("cloudrunv2/service:Service").hooks) == {"after_create", "after_update"}


def test_an_output_image_deploys_what_the_same_plain_image_deploys(deploy: Deploy) -> None:
    fields: dict[str, Any] = {"manifest": DIGITS, "stable_version": "old", "candidate_percent": 25}
    plain = _service(deploy(image=BUILT_IMAGE, **fields))
    built = _service(deploy(image_from=built_image, **fields))
    assert built == plain
    assert [t["tag"] for t in built["traffics"]] == ["stable", "candidate"]
    assert built["traffics"][1]["revision"] == plain["template"]["revision"]


def test_the_gate_of_an_output_image_targets_the_resolved_revision(deploy: Deploy) -> None:
    d = deploy(manifest=DIGITS, image_from=built_image)
    revision = d.outputs["candidate_version"]
    runner = FakeSmokeRunner()
    spec = replace(d.component.spec, smoke_runner=runner)
    binding = gate_binding(spec, "digits-gpu-prod", d.component.candidate_version)
    outputs = {"uri": "https://digits-gpu-prod-xyz.a.run.app"}
    run_hook(binding.after_create[0], hook_args(new_outputs=outputs))
    assert runner.calls[0][2]["revision"] == revision
    assert runner.calls[0][2]["url"] == "https://candidate---digits-gpu-prod-xyz.a.run.app"


def test_the_shift_gate_of_an_output_image_compares_the_resolved_revision(
    deploy: Deploy,
) -> None:
    d = deploy(manifest=DIGITS, image_from=built_image, stable_version="old", candidate_percent=25)
    revision = d.outputs["candidate_version"]
    runner = FakeSmokeRunner()
    spec = replace(d.component.spec, smoke_runner=runner)
    gate = gate_binding(spec, "digits-gpu-prod", d.component.candidate_version).before_update[0]
    with pytest.raises(SmokeTestError, match=f"revision {revision} has not been deployed"):
        run_hook(gate, hook_args(old_inputs={"template": {"revision": "digits-gpu-prod-other"}}))
    deployed = {"template": {"revision": revision}}
    run_hook(gate, hook_args(old_inputs=deployed, old_outputs={"uri": "https://d.run.app"}))
    assert runner.calls[0][2]["revision"] == revision


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("us-central1-docker.pkg.dev/p/images/digits:latest", "has no digest"),
        ("us-central1-docker.pkg.dev/p/images/digits@sha256:abc", "not a valid reference"),
    ],
)
def test_a_cloud_run_output_image_without_a_digest_fails_when_it_resolves(
    deploy: Deploy, reference: str, message: str
) -> None:
    def image() -> pulumi.Output[str]:
        return built_image().apply(lambda _: reference)

    with pytest.raises(UsageError, match=message):
        deploy(manifest=DIGITS, image_from=image)
