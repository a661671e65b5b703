"""The ModelService component: one manifest target as Pulumi resources."""

from __future__ import annotations

from typing import Any

import pulumi

from modelstack.pulumi.args import ModelServiceArgs
from modelstack.pulumi.extras import require_sdk
from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec, resolve

__all__ = ["TYPE_TOKEN", "ModelService"]

TYPE_TOKEN = "modelstack:index:ModelService"


def _build(parent: pulumi.Resource, name: str, spec: ServiceSpec) -> ServiceOutputs:
    if spec.target.provider == "aws-lambda":
        from modelstack.pulumi.aws_lambda import build_lambda

        return build_lambda(parent, name, spec)
    from modelstack.pulumi.cloud_run import build_cloud_run

    return build_cloud_run(parent, name, spec)


class ModelService(pulumi.ComponentResource):
    """A model served from a manifest target (aws-lambda or gcp-cloud-run).

    Every child resource has this component as parent, so the options given here (provider(s),
    protect, aliases, ...) reach all of them. The manifest is loaded and linted, and the image
    reference checked, before anything is registered.

    Outputs:
        endpoint: the function URL (or the `live` alias ARN) / the Cloud Run service URL.
        candidate_address: how to reach the candidate: `{function_name, qualifier, region}`
            for Lambda, `{url, revision, tag}` for Cloud Run.
        candidate_version / stable_version: Lambda version numbers or Cloud Run revisions.
        image / image_digest: what is deployed.
        registry: the ECR repository URL / Artifact Registry URI to push images to.
        resource_names: physical names of the main resources.

    `spec` holds the checked input (manifest, target, image, traffic settings).
    """

    endpoint: pulumi.Output[str]
    candidate_address: pulumi.Output[dict[str, Any]]
    candidate_version: pulumi.Output[str]
    stable_version: pulumi.Output[str]
    image: pulumi.Output[str]
    image_digest: pulumi.Output[str]
    registry: pulumi.Output[str]
    resource_names: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        name: str,
        args: ModelServiceArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        spec = resolve(args)
        require_sdk(spec.target.provider)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        self.spec = spec
        built = _build(self, name, spec)
        self.endpoint = pulumi.Output.from_input(built.endpoint)
        self.candidate_address = pulumi.Output.from_input(built.candidate_address)
        self.candidate_version = pulumi.Output.from_input(built.candidate_version)
        self.stable_version = pulumi.Output.from_input(built.stable_version)
        self.image = pulumi.Output.from_input(spec.image_input)
        self.image_digest = self.image.apply(lambda ref: ref.rsplit("@", 1)[1])
        self.registry = pulumi.Output.from_input(built.registry)
        self.resource_names = pulumi.Output.from_input(built.resource_names)
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "candidateAddress": self.candidate_address,
                "candidateVersion": self.candidate_version,
                "stableVersion": self.stable_version,
                "image": self.image,
                "imageDigest": self.image_digest,
                "registry": self.registry,
                "resourceNames": self.resource_names,
            }
        )
