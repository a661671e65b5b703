"""Target providers: one package per provider behind one protocol, in one explicit registry.

| package          | `provider:`     | what it deploys                                       |
|------------------|-----------------|-------------------------------------------------------|
| `aws_lambda`     | `aws-lambda`    | a container-image Lambda function, through Pulumi     |
| `gcp_cloud_run`  | `gcp-cloud-run` | a Cloud Run (GPU) service, through Pulumi             |
| `local`          | `local`         | containers and a router on the local Docker engine    |

`Provider` (in `protocol.py`) is what each implements. The packages import only light modules
at the top, so loading the registry costs no more than loading the manifest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelstack.errors import UsageError
from modelstack.providers.aws_lambda import AwsLambdaProvider
from modelstack.providers.gcp_cloud_run import CloudRunProvider
from modelstack.providers.local import LocalProvider
from modelstack.providers.protocol import NOT_SUPPORTED, NotSupported, Provider

if TYPE_CHECKING:
    from modelstack.manifest.model import Target

__all__ = [
    "NOT_SUPPORTED",
    "PROVIDERS",
    "NotSupported",
    "Provider",
    "provider_for",
    "provider_named",
]

PROVIDERS: dict[str, Provider[Any]] = {
    "local": LocalProvider(),
    "aws-lambda": AwsLambdaProvider(),
    "gcp-cloud-run": CloudRunProvider(),
}
"""`provider:` value -> its provider. The order is the order of `--provider` and of lint rules."""


def provider_named(name: str) -> Provider[Any]:
    """The provider called `name`; UsageError listing the known ones otherwise."""
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(PROVIDERS)
        raise UsageError(f"unknown provider {name!r}; known providers: {known}") from None


def provider_for(target: Target) -> Provider[Any]:
    """The provider of a loaded target."""
    return provider_named(target.provider)
