"""The aws-lambda provider: a container-image Lambda function deployed through Pulumi."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelstack.errors import UsageError
from modelstack.providers.aws_lambda.target import AwsLambdaTarget, target_from_dict
from modelstack.providers.pulumi_cloud import PulumiCloudProvider

if TYPE_CHECKING:
    import pulumi

    from modelstack.cost.pricing import TargetPricing
    from modelstack.deploy.metrics import ErrorRateReader
    from modelstack.image.registries import Destination
    from modelstack.lint.rule import Rule
    from modelstack.manifest.model import Manifest
    from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
    from modelstack.smoke.clients import InferenceClient

__all__ = ["AwsLambdaProvider"]


class AwsLambdaProvider(PulumiCloudProvider[AwsLambdaTarget]):
    """ECR, a published Lambda version per release, the `live` alias with routing weights."""

    name = "aws-lambda"
    target_type = AwsLambdaTarget
    sdk = ("pulumi_aws", "aws")

    def target_from_dict(self, name: str, d: dict[str, Any]) -> AwsLambdaTarget:
        return target_from_dict(name, d)

    def flavour(self, target: AwsLambdaTarget) -> str:
        return "lambda"

    def runtime_concurrency(self, target: AwsLambdaTarget) -> int | None:
        return None  # Lambda sends one request at a time to an execution environment

    def destination(
        self, manifest: Manifest, target_name: str, target: AwsLambdaTarget
    ) -> Destination:
        from modelstack.image.registries import Destination
        from modelstack.providers.aws_lambda.registry import ecr_login
        from modelstack.pulumi.naming import base_name

        auth, host = ecr_login(target.region)
        return Destination(f"{host}/{base_name(manifest, target_name)}", auth)

    def registry_login(self, host: str) -> dict[str, str] | None:
        from modelstack.providers.aws_lambda.registry import ecr_host_login

        return ecr_host_login(host)

    def candidate_client(self, manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
        from modelstack.providers.aws_lambda.invoke_client import LambdaInvokeClient

        return LambdaInvokeClient(
            str(address["function_name"]),
            str(address["qualifier"]),
            str(address["region"]),
            endpoint_url=address.get("endpoint_url"),
        )

    def serving_address(
        self, manifest: Manifest, target: AwsLambdaTarget, outputs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        from modelstack.pulumi.naming import LAMBDA_ALIAS

        candidate = outputs.get("candidate_address")
        if not isinstance(candidate, Mapping) or not candidate.get("function_name"):
            return None
        return {**candidate, "qualifier": LAMBDA_ALIAS}

    def error_rate_reader(self, target: AwsLambdaTarget, min_requests: int) -> ErrorRateReader:
        from modelstack.providers.aws_lambda.metrics import CloudWatchErrorRate

        return CloudWatchErrorRate(target.region, min_requests)

    def monitoring(self, target: AwsLambdaTarget) -> Any:
        from modelstack.providers.aws_lambda.monitoring import CloudWatchMetrics

        return CloudWatchMetrics(target)

    def deletion_protected(self, target: AwsLambdaTarget) -> bool:
        return False

    def check_spec(self, spec: ServiceSpec) -> None:
        target = spec.target
        assert isinstance(target, AwsLambdaTarget)
        pc = target.provisioned_concurrency
        if pc is not None and pc.attach_to == "alias" and spec.splits_traffic:
            raise UsageError(
                f"target {spec.target_name!r}: provisioned_concurrency.attach_to is 'alias', but "
                f"the alias would split traffic ({spec.candidate_percent}% to the candidate); AWS "
                "rejects provisioned concurrency on an alias with routing weights. "
                "Set attach_to: version"
            )

    def build_program(
        self, parent: pulumi.Resource, name: str, spec: ServiceSpec
    ) -> ServiceOutputs:
        from modelstack.providers.aws_lambda.program import build_lambda

        return build_lambda(parent, name, spec)

    def lint_rules(self) -> tuple[type[Rule], ...]:
        # The lint package first: loading it builds the registry, which calls back here.
        import modelstack.lint  # noqa: F401
        from modelstack.providers.aws_lambda.lint.concurrency import (
            ProvisionedMinMax,
            ProvisionedOnWeightedAlias,
            ProvisionedWithinReserved,
        )
        from modelstack.providers.aws_lambda.lint.exposure import (
            ArchitectureMatchesPlatform,
            PublicFunctionUrl,
        )
        from modelstack.providers.aws_lambda.lint.limits import (
            LambdaEphemeralStorage,
            LambdaMemory,
            LambdaTimeout,
        )

        return (
            LambdaMemory,
            LambdaTimeout,
            ProvisionedWithinReserved,
            ProvisionedOnWeightedAlias,
            LambdaEphemeralStorage,
            PublicFunctionUrl,
            ArchitectureMatchesPlatform,
            ProvisionedMinMax,
        )

    def init_snippet(self, *, gpu: bool) -> str:
        return (
            "  prod:\n    provider: aws-lambda\n    region: us-east-1\n    memory_mb: 1024\n"
            "    timeout_s: 30\n"
        )

    def supports_gpu(self) -> bool:
        return False

    def prices(self, target: AwsLambdaTarget) -> TargetPricing:
        from modelstack.providers.aws_lambda.pricing import LambdaPricing

        return LambdaPricing(target)
