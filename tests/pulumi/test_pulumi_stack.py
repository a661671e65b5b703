"""ModelService inside existing Pulumi programs: beside other resources, with their providers."""

from __future__ import annotations

import runpy

import pulumi
import pulumi_aws as aws
from offline_deploy import ECR_IMAGE, IRIS, ROOT, passing_runner

from modelstack.pulumi import ModelService, ModelServiceArgs
from modelstack.pulumi.component import TYPE_TOKEN
from modelstack.pulumi.offline import RecordingMonitor


@pulumi.runtime.test
def _user_program() -> None:
    provider = aws.Provider("explicit", region="eu-west-1")
    aws.s3.Bucket("reports", opts=pulumi.ResourceOptions(provider=provider))
    ModelService(
        "iris",
        ModelServiceArgs(manifest=IRIS, image=ECR_IMAGE, smoke_runner=passing_runner),
        opts=pulumi.ResourceOptions(provider=provider, protect=True),
    )


def test_component_beside_other_resources_uses_their_provider(monitor: RecordingMonitor) -> None:
    _user_program()
    by_name = {r.name: r for r in monitor.recorded}
    assert {"explicit", "reports", "iris"} <= set(by_name)
    component = by_name["iris"]
    assert component.type == TYPE_TOKEN
    assert component.parent.endswith("::pulumi:pulumi:Stack::modelstack-tests-test")
    children = [r for r in monitor.recorded if r.type.startswith("aws:") and r.name != "reports"]
    assert len(children) > 10
    for child in children:
        assert child.parent == component.urn, child.name
        assert "::explicit::" in child.provider, (child.name, child.provider)
        assert child.protect, child.name
    assert "::explicit::" in by_name["reports"].provider
    assert not by_name["reports"].protect


def test_example_existing_stack_program(monitor: RecordingMonitor) -> None:
    program = ROOT / "examples" / "pulumi-existing-stack" / "__main__.py"
    project = pulumi.get_project()
    pulumi.runtime.set_all_config(
        {
            f"{project}:image": ECR_IMAGE,
            f"{project}:stableVersion": "4",
            f"{project}:candidatePercent": "10",
        }
    )
    try:
        pulumi.runtime.test(lambda: runpy.run_path(str(program), run_name="__main__"))()
    finally:
        pulumi.runtime.set_all_config({})
    types = {r.type for r in monitor.recorded}
    assert {"aws:s3/bucket:Bucket", TYPE_TOKEN, "aws:lambda/alias:Alias"} <= types
    alias = next(r for r in monitor.recorded if r.type == "aws:lambda/alias:Alias")
    assert alias.inputs["functionVersion"] == "4"
    assert alias.inputs["routingConfig"] == {"additionalVersionWeights": {"1": 0.1}}
    assert "before_update" in alias.hooks
