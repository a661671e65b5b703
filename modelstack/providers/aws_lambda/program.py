"""The resources of an aws-lambda target (pulumi_aws).

ECR repository -> execution role and its inline policy -> log group -> function from the image
digest (published, so every deployment is a new version: the candidate) -> provisioned
concurrency on the candidate version -> the `live` alias (stable version plus a routing weight
for the candidate) guarded by the smoke gate -> App Auto Scaling -> function URL -> alarms.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from modelstack.errors import SmokeTestError
from modelstack.providers.aws_lambda.events import build_events, events_environment
from modelstack.providers.aws_lambda.monitoring import monitoring_resources
from modelstack.providers.aws_lambda.policies import (
    ASSUME_ROLE_POLICY,
    ECR_LIFECYCLE_POLICY,
    execution_policy,
)
from modelstack.providers.aws_lambda.routing_grants import lambda_routing_grants
from modelstack.providers.aws_lambda.target import AwsLambdaTarget, ProvisionedConcurrency
from modelstack.pulumi.gate import smoke_gate
from modelstack.pulumi.naming import LAMBDA_ALIAS, aws_tags, fit
from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
from modelstack.pulumi.traffic import lambda_routing

__all__ = ["PC_DIMENSION", "build_lambda"]

PC_DIMENSION = "lambda:function:ProvisionedConcurrency"


def build_lambda(parent: pulumi.Resource, name: str, spec: ServiceSpec) -> ServiceOutputs:
    """Register the target's resources as children of `parent`."""
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    region = target.region
    tags = aws_tags(spec.manifest, spec.target_name)
    child = pulumi.ResourceOptions(parent=parent)
    function_name = fit(spec.base, 64)

    repo = _repository(parent, name, spec, tags)
    if spec.registry_only:
        return ServiceOutputs.registry_only(repo.repository_url, repo.name)
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=target.log_retention_days,
        kms_key_id=target.kms_key_arn,
        region=region,
        tags=tags,
        opts=child,
    )
    role = aws.iam.Role(
        f"{name}-role",
        name=fit(f"{spec.base}-exec", 64),
        description=f"Execution role of the {function_name} Lambda function",
        assume_role_policy=json.dumps(ASSUME_ROLE_POLICY, sort_keys=True),
        tags=tags,
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-role-policy",
        name="modelstack-execution",
        role=role.id,
        policy=log_group.arn.apply(
            lambda arn: execution_policy(arn, target.kms_key_arn, target.tracing)
        ),
        opts=child,
    )
    environment = {**target.environment, **lambda_routing_grants(parent, name, spec, role)}
    function = aws.lambda_.Function(
        f"{name}-function",
        name=function_name,
        description=pulumi.Output.from_input(spec.image_input).apply(
            lambda ref: (
                f"{spec.manifest.name} {spec.manifest.metadata.version} ({ref.rsplit('@', 1)[1]})"
            )
        ),
        package_type="Image",
        image_uri=spec.image_input,
        role=role.arn,
        memory_size=spec.memory_mb or target.memory_mb,
        timeout=target.timeout_s,
        architectures=[target.architecture],
        ephemeral_storage={"size": target.ephemeral_storage_mb},
        environment=events_environment(spec, environment),
        reserved_concurrent_executions=target.reserved_concurrency,
        tracing_config={"mode": "Active"} if target.tracing else None,
        kms_key_arn=target.kms_key_arn,
        logging_config={"log_format": "Text", "log_group": log_group.name},
        publish=True,
        region=region,
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[policy, log_group]),
    )
    candidate_address = pulumi.Output.all(function.name, function.version).apply(
        lambda nv: {
            "provider": "aws-lambda",
            "function_name": nv[0],
            "qualifier": nv[1],
            "region": region,
        }
    )

    pc = target.provisioned_concurrency
    warm = None
    if pc is not None and pc.attach_to == "version":
        warm = _provisioned(parent, name, spec, function, function.version, pc)
    alias = _alias(parent, name, spec, function, candidate_address, warm)
    if pc is not None:
        qualifier: Any = function.version
        if pc.attach_to == "alias":
            # Only reachable when the alias is not weighted (spec.resolve refuses otherwise).
            qualifier = alias.name
            warm = _provisioned(parent, name, spec, function, qualifier, pc)
        _autoscaling(parent, name, spec, function, qualifier, pc, warm)

    endpoint: Any = alias.arn
    if target.function_url.enabled:
        endpoint = _function_url(parent, name, spec, function, alias)
    _alarms(parent, name, spec, function, tags)
    build_events(parent, name, spec, alias=alias, role=role)
    monitoring_resources(parent, name, spec, function.name, tags)

    return ServiceOutputs(
        endpoint=endpoint,
        candidate_address=candidate_address,
        candidate_version=function.version,
        stable_version=spec.stable_version or function.version,
        registry=repo.repository_url,
        resource_names={
            "function": function.name,
            "alias": LAMBDA_ALIAS,
            "role": role.name,
            "log_group": log_group.name,
            "repository": repo.name,
        },
    )


def _repository(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, tags: dict[str, str]
) -> aws.ecr.Repository:
    """The ECR repository and its lifecycle policy.

    `force_delete`: the repository holds the pushed images, and ECR refuses to delete a
    repository with images in it, so without it `destroy` (and removing a failed first
    deploy) would fail and leave resources behind. Destroying a target removes its images.
    """
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    child = pulumi.ResourceOptions(parent=parent)
    repo = aws.ecr.Repository(
        f"{name}-repo",
        name=fit(spec.base, 256),
        image_tag_mutability="IMMUTABLE",
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=(
            [{"encryption_type": "KMS", "kms_key": target.kms_key_arn}]
            if target.kms_key_arn
            else None
        ),
        force_delete=True,
        region=target.region,
        tags=tags,
        opts=child,
    )
    aws.ecr.LifecyclePolicy(
        f"{name}-repo-lifecycle",
        repository=repo.name,
        policy=json.dumps(ECR_LIFECYCLE_POLICY, sort_keys=True),
        region=target.region,
        opts=child,
    )
    return repo


def _provisioned(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    function: aws.lambda_.Function,
    qualifier: Any,
    pc: ProvisionedConcurrency,
) -> aws.lambda_.ProvisionedConcurrencyConfig:
    """Provisioned concurrency on the candidate version (warmed before the alias moves).

    Application Auto Scaling owns the amount afterwards, so later changes to it are ignored.
    """
    return aws.lambda_.ProvisionedConcurrencyConfig(
        f"{name}-provisioned",
        function_name=function.name,
        qualifier=qualifier,
        provisioned_concurrent_executions=max(pc.min, 1),
        region=spec.target.region,
        opts=pulumi.ResourceOptions(
            parent=parent, ignore_changes=["provisionedConcurrentExecutions"]
        ),
    )


def _alias(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    function: aws.lambda_.Function,
    candidate_address: pulumi.Output[dict[str, Any]],
    warm: aws.lambda_.ProvisionedConcurrencyConfig | None,
) -> aws.lambda_.Alias:
    """The `live` alias; the smoke gate runs before it is created or changed."""
    routing = lambda_routing(spec.stable_version, spec.candidate_percent)
    stable = routing.primary
    weights: Any = None
    if routing.candidate_weight is not None:
        weight = routing.candidate_weight
        weights = {
            "additional_version_weights": function.version.apply(
                lambda v: {v: weight} if v != stable else {}
            )
        }

    async def locate(_args: pulumi.ResourceHookArgs) -> Mapping[str, Any]:
        address = await candidate_address.future()
        if address is None:  # unknown only in a preview, where hooks do not run
            raise SmokeTestError("smoke gate: the candidate's address is not known")
        return address

    hooks = None
    if spec.smoke_gate:
        gate = smoke_gate(spec.manifest, spec.target_name, locate, spec.smoke_runner)
        hooks = pulumi.ResourceHookBinding(before_create=[gate], before_update=[gate])
    return aws.lambda_.Alias(
        f"{name}-alias",
        name=LAMBDA_ALIAS,
        description=f"traffic of {spec.manifest.name}; candidate at {spec.candidate_percent}%",
        function_name=function.name,
        function_version=stable if stable is not None else function.version,
        routing_config=weights,
        region=spec.target.region,
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=[warm] if warm is not None else None, hooks=hooks
        ),
    )


def _autoscaling(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    function: aws.lambda_.Function,
    qualifier: Any,
    pc: ProvisionedConcurrency,
    warm: aws.lambda_.ProvisionedConcurrencyConfig | None,
) -> None:
    """Target tracking on utilisation plus the manifest's scheduled actions."""
    region = spec.target.region
    scaling = aws.appautoscaling.Target(
        f"{name}-pc-scaling",
        service_namespace="lambda",
        scalable_dimension=PC_DIMENSION,
        resource_id=pulumi.Output.concat("function:", function.name, ":", qualifier),
        min_capacity=pc.min,
        max_capacity=pc.max,
        region=region,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[warm] if warm else None),
    )
    child = pulumi.ResourceOptions(parent=parent)
    aws.appautoscaling.Policy(
        f"{name}-pc-utilization",
        name=fit(f"{spec.base}-pc-utilization", 256),
        policy_type="TargetTrackingScaling",
        service_namespace=scaling.service_namespace,
        resource_id=scaling.resource_id,
        scalable_dimension=scaling.scalable_dimension,
        target_tracking_scaling_policy_configuration={
            "target_value": pc.target_utilization,
            "predefined_metric_specification": {
                "predefined_metric_type": "LambdaProvisionedConcurrencyUtilization"
            },
        },
        region=region,
        opts=child,
    )
    for schedule in pc.schedules:
        aws.appautoscaling.ScheduledAction(
            f"{name}-pc-{schedule.name}",
            name=fit(f"{spec.base}-{schedule.name}", 256),
            service_namespace=scaling.service_namespace,
            resource_id=scaling.resource_id,
            scalable_dimension=scaling.scalable_dimension,
            schedule=schedule.schedule,
            timezone=schedule.timezone,
            scalable_target_action={"min_capacity": schedule.min, "max_capacity": schedule.max},
            region=region,
            opts=child,
        )


def _function_url(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    function: aws.lambda_.Function,
    alias: aws.lambda_.Alias,
) -> pulumi.Output[str]:
    """A function URL on the alias; AWS_IAM unless the manifest asks for a public one."""
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    child = pulumi.ResourceOptions(parent=parent)
    url = aws.lambda_.FunctionUrl(
        f"{name}-url",
        function_name=function.name,
        qualifier=alias.name,
        authorization_type=target.function_url.auth,
        region=target.region,
        opts=child,
    )
    if target.function_url.auth == "NONE":
        # A public URL needs a resource policy allowing anyone; the manifest asked for it.
        for action, suffix in (
            ("lambda:InvokeFunctionUrl", "url"),
            ("lambda:InvokeFunction", "fn"),
        ):
            aws.lambda_.Permission(
                f"{name}-public-{suffix}",
                action=action,
                function=function.name,
                qualifier=alias.name,
                principal="*",
                function_url_auth_type="NONE" if suffix == "url" else None,
                invoked_via_function_url=True if suffix == "fn" else None,
                region=target.region,
                opts=child,
            )
    return url.function_url


def _alarms(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    function: aws.lambda_.Function,
    tags: dict[str, str],
) -> None:
    """CloudWatch alarms on the alias: errors, throttles, p99 duration."""
    target = spec.target
    assert isinstance(target, AwsLambdaTarget)
    dimensions = {
        "FunctionName": function.name,
        "Resource": pulumi.Output.concat(function.name, ":", LAMBDA_ALIAS),
    }
    wanted: list[tuple[str, dict[str, Any]]] = []
    if target.alarms.errors:
        wanted.append(("errors", {"metric_name": "Errors", "statistic": "Sum", "threshold": 1}))
    if target.alarms.throttles:
        wanted.append(
            ("throttles", {"metric_name": "Throttles", "statistic": "Sum", "threshold": 1})
        )
    if target.alarms.p99_latency_ms is not None:
        wanted.append(
            (
                "p99-latency",
                {
                    "metric_name": "Duration",
                    "extended_statistic": "p99",
                    "threshold": target.alarms.p99_latency_ms,
                    "evaluation_periods": 3,
                    "datapoints_to_alarm": 3,
                },
            )
        )
    for suffix, metric in wanted:
        aws.cloudwatch.MetricAlarm(
            f"{name}-alarm-{suffix}",
            name=fit(f"{spec.base}-{suffix}", 255),
            namespace="AWS/Lambda",
            dimensions=dimensions,
            period=60,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=list(spec.alarm_actions),
            ok_actions=list(spec.alarm_actions),
            region=target.region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=parent),
            **{"evaluation_periods": 1, **metric},
        )
