"""The optional cloud SDKs behind each target provider, imported only when a target needs one.

Each provider names its Pulumi SDK and the modelstack extra that installs it (`Provider.sdk`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from modelstack.errors import MissingDependencyError
from modelstack.providers import PROVIDERS

__all__ = ["require_pulumi", "require_sdk"]


def _sdk(provider: str) -> tuple[str, str] | None:
    known = PROVIDERS.get(provider)
    return known.sdk if known is not None else None


def require_pulumi(provider: str) -> ModuleType:
    """The Pulumi SDK, or MissingDependencyError naming the extra for `provider`."""
    extra = (_sdk(provider) or ("pulumi", "aws"))[1]
    try:
        return importlib.import_module("pulumi")
    except ImportError:
        raise MissingDependencyError(f"deploying a {provider} target", extra) from None


def require_sdk(provider: str) -> ModuleType:
    """The Pulumi provider SDK for a target provider (pulumi_aws for aws-lambda, ...).

    Imported on every call (Python caches it), so a missing or blocked module is reported as
    MissingDependencyError with the `pip install 'modelstack-serverless[<extra>]'` line to run.
    """
    sdk = _sdk(provider)
    if sdk is None:
        raise MissingDependencyError(f"a {provider} target", "all")
    module, extra = sdk
    require_pulumi(provider)
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(f"deploying a {provider} target ({module})", extra) from None
