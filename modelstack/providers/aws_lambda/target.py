"""The aws-lambda target as the manifest declares it, and its loading from the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from modelstack.coerce import ints

__all__ = [
    "Alarms",
    "AwsLambdaTarget",
    "FunctionUrl",
    "ProvisionedConcurrency",
    "Schedule",
    "target_from_dict",
]


@dataclass(frozen=True)
class Schedule:
    name: str
    schedule: str
    min: int
    max: int
    timezone: str = "UTC"


@dataclass(frozen=True)
class ProvisionedConcurrency:
    min: int = 1
    max: int = 1
    target_utilization: float = 0.7
    attach_to: str = "version"
    schedules: tuple[Schedule, ...] = ()


@dataclass(frozen=True)
class FunctionUrl:
    enabled: bool = False
    auth: str = "AWS_IAM"


@dataclass(frozen=True)
class Alarms:
    errors: bool = False
    throttles: bool = False
    p99_latency_ms: float | None = None


@dataclass(frozen=True)
class AwsLambdaTarget:
    name: str
    region: str
    provider: Literal["aws-lambda"] = "aws-lambda"
    memory_mb: int = 1024
    timeout_s: int = 30
    architecture: str = "x86_64"
    ephemeral_storage_mb: int = 512
    reserved_concurrency: int | None = None
    provisioned_concurrency: ProvisionedConcurrency | None = None
    function_url: FunctionUrl = field(default_factory=FunctionUrl)
    environment: dict[str, str] = field(default_factory=dict)
    kms_key_arn: str | None = None
    tracing: bool = False
    log_retention_days: int = 30
    alarms: Alarms = field(default_factory=Alarms)


def target_from_dict(name: str, d: dict[str, Any]) -> AwsLambdaTarget:
    """The typed target from its schema-valid manifest mapping."""
    d = ints(d, "memory_mb", "timeout_s", "ephemeral_storage_mb", "reserved_concurrency",
             "log_retention_days")  # fmt: skip
    pc = d.pop("provisioned_concurrency", None)
    url = d.pop("function_url", {})
    alarms = d.pop("alarms", {})
    provisioned = None
    if pc is not None:
        schedules = tuple(Schedule(**ints(s, "min", "max")) for s in pc.get("schedules", []))
        provisioned = ProvisionedConcurrency(**{**ints(pc, "min", "max"), "schedules": schedules})
    return AwsLambdaTarget(
        name=name,
        **d,
        provisioned_concurrency=provisioned,
        function_url=FunctionUrl(**url),
        alarms=Alarms(**alarms),
    )
