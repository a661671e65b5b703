"""How a routed entry reaches each of its tiers: the kind of hop, by the two targets' providers.

The kind is the ``kind`` of the tier's address in the entry's ``MODELSTACK_ROUTING_TIERS``
(written by the entry's Pulumi program) and decides which SDK the entry's image needs:

* an aws-lambda entry calls an aws-lambda tier with ``lambda.invoke`` (``aws-lambda``) and a
  gcp-cloud-run tier with a federated ID token (``cloud-run-federated``);
* a gcp-cloud-run entry calls a gcp-cloud-run tier with a metadata ID token (``cloud-run``);
* a local entry calls its tiers over plain HTTP; other pairs are refused by the grants.

Each kind's transport imports one SDK (:data:`SDK_OF_KIND`), which the image installs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from modelstack.providers.aws_lambda.target import AwsLambdaTarget
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest, Target

__all__ = [
    "AWS_SDK",
    "GOOGLE_AUTH",
    "SDK_OF_KIND",
    "routing_sdks",
    "routing_tier_kinds",
    "tier_kind",
]

AWS_SDK: Final = "aws-sdk"
"""boto3 and botocore."""
GOOGLE_AUTH: Final = "google-auth"
"""google-auth (and requests, for the metadata server)."""
SDK_OF_KIND: Final = {
    "aws-lambda": AWS_SDK,
    "cloud-run": GOOGLE_AUTH,
    "cloud-run-federated": GOOGLE_AUTH,
}


def tier_kind(entry: Target, tier: Target) -> str | None:
    """The kind of hop from `entry` to `tier`, or None (plain HTTP, or not a pair that routes)."""
    if isinstance(entry, AwsLambdaTarget):
        if isinstance(tier, AwsLambdaTarget):
            return "aws-lambda"
        if isinstance(tier, CloudRunTarget):
            return "cloud-run-federated"
    if isinstance(entry, CloudRunTarget) and isinstance(tier, CloudRunTarget):
        return "cloud-run"
    return None


def routing_tier_kinds(manifest: Manifest, target_name: str) -> tuple[str, ...]:
    """The kinds of hop `manifest`'s target makes to its tiers, each once, in tier order."""
    entry = manifest.targets[target_name]
    if not isinstance(entry, AwsLambdaTarget | CloudRunTarget):
        return ()  # a local entry's tiers are http; its tier manifests are not read here
    from modelstack.providers.routing_grants import cloud_tiers

    kinds: list[str] = []
    for tier in cloud_tiers(manifest):
        kind = tier_kind(entry, tier.target)
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def routing_sdks(manifest: Manifest, target_name: str) -> tuple[str, ...]:
    """The SDKs (:data:`AWS_SDK`, :data:`GOOGLE_AUTH`) the target's hops need, each once."""
    sdks: list[str] = []
    for kind in routing_tier_kinds(manifest, target_name):
        if SDK_OF_KIND[kind] not in sdks:
            sdks.append(SDK_OF_KIND[kind])
    return tuple(sdks)
