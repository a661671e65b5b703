"""The local target as the manifest declares it, and its loading from the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from modelstack.coerce import ints

__all__ = ["LocalTarget", "function_name", "target_from_dict"]


@dataclass(frozen=True)
class LocalTarget:
    name: str
    provider: Literal["local"] = "local"
    flavour: str = "http"
    port: int = 8080
    provisioned_concurrency: int = 1
    environment: dict[str, str] = field(default_factory=dict)


def target_from_dict(name: str, d: dict[str, Any]) -> LocalTarget:
    """The typed target from its schema-valid manifest mapping."""
    local = ints(d, "port", "provisioned_concurrency")
    return LocalTarget(name=name, **{**local, "environment": dict(d.get("environment", {}))})


def function_name(model_name: str, target_name: str) -> str:
    """The name the local target answers to as a Lambda function (the Invoke API's FunctionName)."""
    return f"{model_name}.{target_name}"
