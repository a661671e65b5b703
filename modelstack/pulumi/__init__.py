"""Pulumi support: the ModelService component and an offline (mocked) runner for plans.

    from modelstack.pulumi import ModelService, ModelServiceArgs

    service = ModelService(
        "iris",
        ModelServiceArgs(manifest="modelstack.yaml", target="prod", image="...@sha256:..."),
    )
    pulumi.export("endpoint", service.endpoint)

The public names load on first use (see `_EXPORTS`), so the submodules that need no Pulumi
(`args`, `spec`, `image`, `naming`, `extras`, `traffic`) import without it, and a command can
check the target and name the missing extra before the Pulumi SDK is imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelstack.errors import MissingDependencyError

if TYPE_CHECKING:
    from modelstack.pulumi.args import ModelServiceArgs, SmokeRunner
    from modelstack.pulumi.component import TYPE_TOKEN, ModelService
    from modelstack.pulumi.gate import default_runner, smoke_gate
    from modelstack.pulumi.image import ImageRef, parse_image

__all__ = [
    "TYPE_TOKEN",
    "ImageRef",
    "ModelService",
    "ModelServiceArgs",
    "SmokeRunner",
    "default_runner",
    "parse_image",
    "smoke_gate",
]

_EXPORTS = {
    "TYPE_TOKEN": "component",
    "ImageRef": "image",
    "ModelService": "component",
    "ModelServiceArgs": "args",
    "SmokeRunner": "args",
    "default_runner": "gate",
    "parse_image": "image",
    "smoke_gate": "gate",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    except ModuleNotFoundError as exc:
        if exc.name != "pulumi":
            raise
        raise MissingDependencyError("modelstack.pulumi", "all") from exc
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
