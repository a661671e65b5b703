"""What an aws-lambda entry may call when its manifest routes to tiers.

* an aws-lambda tier: one inline policy on the entry's execution role allowing
  `lambda:InvokeFunction` on exactly each tier's `live` alias ARN (the function name the
  tier's own deployment gives it, in the entry's account and partition), nothing else;
* a gcp-cloud-run tier: Workload Identity Federation (`gcp_cloud_run/routing_grants_wif.py`).

The entry learns where its tiers are from `MODELSTACK_ROUTING_TIERS` in its environment: a JSON
object from tier name to its address (`kind` plus what that kind's transport needs).
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from modelstack.errors import ManifestError
from modelstack.providers.aws_lambda.target import AwsLambdaTarget
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
from modelstack.providers.routing_grants import TIERS_ENV, CloudTier, cloud_tiers
from modelstack.pulumi.naming import LAMBDA_ALIAS, fit
from modelstack.pulumi.spec import ServiceSpec

__all__ = ["TIERS_ENV", "grant_tiers", "invoke_policy", "lambda_routing_grants", "tier_alias_arn"]


def tier_alias_arn(role_arn: str, tier: CloudTier) -> str:
    """The `live` alias ARN of an aws-lambda tier, in the account and partition of `role_arn`."""
    target = tier.target
    assert isinstance(target, AwsLambdaTarget)
    parts = role_arn.split(":")
    function = fit(tier.base, 64)
    return f"arn:{parts[1]}:lambda:{target.region}:{parts[4]}:function:{function}:{LAMBDA_ALIAS}"


def invoke_policy(alias_arns: list[str]) -> str:
    """The routing policy: invoke exactly these aliases."""
    statement = {
        "Sid": "InvokeRoutingTiers",
        "Effect": "Allow",
        "Action": ["lambda:InvokeFunction"],
        "Resource": sorted(alias_arns),
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, sort_keys=True)


def _lambda_address(tier: CloudTier) -> dict[str, Any]:
    target = tier.target
    assert isinstance(target, AwsLambdaTarget)
    return {
        "kind": "aws-lambda",
        "model_name": tier.manifest.name,
        "function_name": fit(tier.base, 64),
        "qualifier": LAMBDA_ALIAS,
        "region": target.region,
        "timeout_ms": tier.timeout_ms,
    }


def lambda_routing_grants(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, role: aws.iam.Role
) -> dict[str, Any]:
    """Register the grants for `spec`'s tiers; the environment variables the entry needs."""
    return grant_tiers(parent, name, spec, role, cloud_tiers(spec.manifest))


def grant_tiers(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    role: aws.iam.Role,
    tiers: tuple[CloudTier, ...],
) -> dict[str, Any]:
    """Register the grants for `tiers`; the environment variables the entry needs."""
    if not tiers:
        return {}
    addresses: dict[str, Any] = {}
    lambda_tiers = [t for t in tiers if isinstance(t.target, AwsLambdaTarget)]
    for tier in tiers:
        if isinstance(tier.target, AwsLambdaTarget):
            addresses[tier.name] = _lambda_address(tier)
        elif isinstance(tier.target, CloudRunTarget):
            from modelstack.providers.gcp_cloud_run.routing_grants_wif import (
                federate_lambda_role,
            )

            addresses[tier.name] = federate_lambda_role(
                parent,
                name,
                entry_base=spec.base,
                role_arn=role.arn,
                role_name=role.name,
                tier=tier,
            )
        else:
            raise ManifestError(
                f"{spec.manifest.path}: routing tier {tier.name!r} is a "
                f"{tier.target.provider} target, which an aws-lambda service cannot call; "
                "name an aws-lambda or gcp-cloud-run target of the tier"
            )
    if lambda_tiers:
        aws.iam.RolePolicy(
            f"{name}-routing-policy",
            name="modelstack-routing",
            role=role.id,
            policy=role.arn.apply(
                lambda arn: invoke_policy([tier_alias_arn(arn, t) for t in lambda_tiers])
            ),
            opts=pulumi.ResourceOptions(parent=parent),
        )
    tiers_json = pulumi.Output.all(**addresses).apply(
        lambda resolved: json.dumps(resolved, sort_keys=True, separators=(",", ":"))
    )
    return {TIERS_ENV: tiers_json}
