"""The optional cloud SDKs behind each target provider, imported only when a target needs one."""

from __future__ import annotations

import importlib
from types import ModuleType

from modelstack.errors import MissingDependencyError

__all__ = ["EXTRAS", "require_pulumi", "require_sdk"]

EXTRAS: dict[str, tuple[str, str]] = {
    "aws-lambda": ("pulumi_aws", "aws"),
    "gcp-cloud-run": ("pulumi_gcp", "gcp"),
}
"""Target provider -> (the Pulumi provider SDK module, the modelstack extra that installs it)."""


def require_pulumi(provider: str) -> ModuleType:
    """The Pulumi SDK, or MissingDependencyError naming the extra for `provider`."""
    extra = EXTRAS.get(provider, ("pulumi", "aws"))[1]
    try:
        return importlib.import_module("pulumi")
    except ImportError:
        raise MissingDependencyError(f"deploying a {provider} target", extra) from None


def require_sdk(provider: str) -> ModuleType:
    """The Pulumi provider SDK for a target provider (pulumi_aws for aws-lambda, ...).

    Imported on every call (Python caches it), so a missing or blocked module is reported as
    MissingDependencyError with the `pip install 'modelstack-serverless[<extra>]'` line to run.
    """
    if provider not in EXTRAS:
        raise MissingDependencyError(f"a {provider} target", "all")
    module, extra = EXTRAS[provider]
    require_pulumi(provider)
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"deploying a {provider} target ({module})", extra) from None
