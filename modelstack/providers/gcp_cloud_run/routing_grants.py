"""What a gcp-cloud-run entry may call when its manifest routes to tiers.

A Cloud Run tier: `roles/run.invoker` for the entry's service account on exactly that service
(a `cloudrunv2.ServiceIamMember` in the tier's project and region, on the service name the
tier's own deployment gives it). The entry calls it with an ID token for the tier's URL from the
metadata server. Other tier kinds are refused with a message.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_gcp as gcp

from modelstack.errors import ManifestError
from modelstack.providers.gcp_cloud_run.routing_grants_wif import service_url
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget
from modelstack.providers.routing_grants import TIERS_ENV, CloudTier, cloud_tiers
from modelstack.pulumi.naming import fit
from modelstack.pulumi.spec import ServiceSpec

__all__ = ["cloud_run_routing_grants", "grant_tiers", "tier_environment"]


def cloud_run_routing_grants(
    parent: pulumi.Resource, name: str, spec: ServiceSpec, service_account: Any
) -> dict[str, Any]:
    """Let `service_account` (an email, or an Output of one) invoke each of `spec`'s tiers; the
    environment variables the entry needs to find them."""
    tiers = cloud_tiers(spec.manifest)
    grant_tiers(parent, name, spec, service_account, tiers)
    return tier_environment(tiers)


def tier_environment(tiers: tuple[CloudTier, ...]) -> dict[str, Any]:
    """`MODELSTACK_ROUTING_TIERS`: each tier's deterministic service URL (its project's number
    read from the project, so the address is known before the tier's first deploy)."""
    if not tiers:
        return {}
    addresses = {tier.name: _address(tier) for tier in tiers}
    return {
        TIERS_ENV: pulumi.Output.all(**addresses).apply(
            lambda resolved: json.dumps(resolved, sort_keys=True, separators=(",", ":"))
        )
    }


def grant_tiers(
    parent: pulumi.Resource,
    name: str,
    spec: ServiceSpec,
    service_account: Any,
    tiers: tuple[CloudTier, ...],
) -> None:
    """`roles/run.invoker` on each tier's service for `service_account`."""
    for tier in tiers:
        target = tier.target
        if not isinstance(target, CloudRunTarget):
            raise ManifestError(
                f"{spec.manifest.path}: routing tier {tier.name!r} is a {target.provider} "
                "target, which a gcp-cloud-run service cannot call; name a gcp-cloud-run "
                "target of the tier"
            )
        gcp.cloudrunv2.ServiceIamMember(
            f"{name}-routing-{tier.slug}-invoker",
            name=fit(tier.base, 49),
            role="roles/run.invoker",
            member=pulumi.Output.concat("serviceAccount:", service_account),
            project=target.project,
            location=target.region,
            opts=pulumi.ResourceOptions(parent=parent),
        )


def _address(tier: CloudTier) -> pulumi.Output[dict[str, Any]]:
    target = tier.target
    assert isinstance(target, CloudRunTarget)

    def address(number: Any) -> dict[str, Any]:
        return {
            "kind": "cloud-run",
            "model_name": tier.manifest.name,
            "url": service_url(fit(tier.base, 49), str(number), target.region),
            "timeout_ms": tier.timeout_ms,
        }

    project = gcp.organizations.get_project_output(project_id=target.project)
    return project.number.apply(address)
