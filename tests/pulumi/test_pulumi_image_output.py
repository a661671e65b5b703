"""An image built in the same program reaches the component as an Output."""

from __future__ import annotations

import pulumi
import pytest
from offline_deploy import DIGEST, DIGITS, ECR_IMAGE, GCP_IMAGE, IRIS, Deploy

from modelstack.errors import UsageError
from modelstack.pulumi import ModelService, ModelServiceArgs


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


def test_a_cloud_run_image_must_be_a_string() -> None:
    with pytest.raises(UsageError, match="pass its image as a str"):
        ModelService(
            "svc",
            ModelServiceArgs(manifest=DIGITS, image=pulumi.Output.from_input(GCP_IMAGE)),
        )
