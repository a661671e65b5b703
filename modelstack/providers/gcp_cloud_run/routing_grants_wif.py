"""Across clouds: an AWS Lambda entry calling a Cloud Run tier through Workload Identity
Federation, with no Google key anywhere.

In the tier's project, per entry and tier:

* a workload identity pool and an AWS provider in it that trusts the entry's AWS account and
  admits only the entry's execution role (`attribute_condition` on the assumed-role ARN that
  Lambda's credentials carry: `arn:aws:sts::<account>:assumed-role/<role>/<session>`);
* a Google service account for the hop, which the federated role may act as
  (`roles/iam.workloadIdentityUser` for the principalSet of that role) and which may invoke
  that one service (`roles/run.invoker` on it) and nothing else.

The entry receives an external-account credential configuration (no secret in it: google-auth
signs a GetCallerIdentity request with the function's own AWS credentials and exchanges it at
Google's STS for a federated token, which then mints an ID token for the tier's URL as the
service account). `modelstack_runtime/routing_transports.py` uses it.
"""

from __future__ import annotations

from typing import Any, Final

import pulumi
import pulumi_gcp as gcp

from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
from modelstack.providers.routing_grants import CloudTier
from modelstack.pulumi.naming import fit

__all__ = [
    "AWS_SUBJECT_TOKEN_TYPE",
    "ROLE_ATTRIBUTE",
    "STS_TOKEN_URL",
    "credential_config",
    "federate_lambda_role",
    "service_url",
]

STS_TOKEN_URL: Final = "https://sts.googleapis.com/v1/token"
AWS_SUBJECT_TOKEN_TYPE: Final = "urn:ietf:params:aws:token-type:aws4_request"
ROLE_ATTRIBUTE: Final = "attribute.aws_role"
"""The mapped attribute that names the AWS role; the principalSet binds on it."""
_ROLE_OF_ARN: Final = "assertion.arn.extract('assumed-role/{role}/')"


def credential_config(audience: str) -> dict[str, Any]:
    """The external-account credential configuration for AWS (what `gcloud iam
    workload-identity-pools create-cred-config --aws` writes, without impersonation: the
    federated token itself asks for the ID token). On Lambda the AWS credentials and region
    come from the function's environment, so no metadata URL is needed."""
    return {
        "type": "external_account",
        "audience": audience,
        "subject_token_type": AWS_SUBJECT_TOKEN_TYPE,
        "token_url": STS_TOKEN_URL,
        "credential_source": {
            "environment_id": "aws1",
            "regional_cred_verification_url": (
                "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
            ),
        },
        "universe_domain": "googleapis.com",
    }


def federate_lambda_role(
    parent: pulumi.Resource,
    name: str,
    *,
    entry_base: str,
    role_arn: pulumi.Output[str],
    role_name: pulumi.Output[str],
    tier: CloudTier,
) -> pulumi.Output[dict[str, Any]]:
    """Register the federation for `tier`; returns the tier's address for the entry."""
    target = tier.target
    assert isinstance(target, CloudRunTarget)
    child = pulumi.ResourceOptions(parent=parent)
    project = target.project
    prefix = f"{name}-wif-{tier.slug}"
    service_name = fit(tier.base, 49)
    pool = gcp.iam.WorkloadIdentityPool(
        f"{prefix}-pool",
        workload_identity_pool_id=fit(f"ms-{entry_base}-{tier.slug}", 32),
        display_name=fit(f"modelstack {entry_base}", 32),
        description=f"{entry_base} on AWS Lambda calling Cloud Run service {service_name}",
        project=project,
        opts=child,
    )
    arn_parts = role_arn.apply(lambda arn: arn.split(":"))
    condition = pulumi.Output.all(arn_parts, role_name).apply(
        lambda v: f"assertion.arn.startsWith('arn:{v[0][1]}:sts::{v[0][4]}:assumed-role/{v[1]}/')"
    )
    provider = gcp.iam.WorkloadIdentityPoolProvider(
        f"{prefix}-aws",
        workload_identity_pool_id=pool.workload_identity_pool_id,
        workload_identity_pool_provider_id="aws-lambda",
        display_name="AWS Lambda entry",
        aws={"account_id": arn_parts.apply(lambda p: p[4])},
        attribute_mapping={"google.subject": _ROLE_OF_ARN, ROLE_ATTRIBUTE: _ROLE_OF_ARN},
        attribute_condition=condition,
        project=project,
        opts=child,
    )
    account = gcp.serviceaccount.Account(
        f"{prefix}-sa",
        account_id=fit(f"{entry_base}-to-{tier.slug}", 30).rstrip("-"),
        display_name=f"{entry_base} (AWS) invoking {service_name}",
        project=project,
        opts=child,
    )
    gcp.serviceaccount.IAMMember(
        f"{prefix}-federated-user",
        service_account_id=pulumi.Output.concat(
            "projects/", project, "/serviceAccounts/", account.email
        ),
        role="roles/iam.workloadIdentityUser",
        member=pulumi.Output.concat(
            "principalSet://iam.googleapis.com/", pool.name, f"/{ROLE_ATTRIBUTE}/", role_name
        ),
        opts=child,
    )
    gcp.cloudrunv2.ServiceIamMember(
        f"{prefix}-invoker",
        name=service_name,
        role="roles/run.invoker",
        member=pulumi.Output.concat("serviceAccount:", account.email),
        project=project,
        location=target.region,
        opts=child,
    )
    return pulumi.Output.all(provider.name, account.email).apply(
        lambda values: {
            "kind": "cloud-run-federated",
            "model_name": tier.manifest.name,
            "url": service_url(service_name, values[0].split("/")[1], target.region),
            "service_account": values[1],
            "credential_config": credential_config(f"//iam.googleapis.com/{values[0]}"),
            "timeout_ms": tier.timeout_ms,
        }
    )


def service_url(service: str, project_number: str, region: str) -> str:
    """A Cloud Run service's deterministic URL (`https://SERVICE-PROJECT_NUMBER.REGION.run.app`),
    which is also the audience its ID tokens must carry."""
    return f"https://{service}-{project_number}.{region}.run.app"
