"""The gcp-cloud-run target as the manifest declares it, and its loading from the manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from modelstack.coerce import ints

__all__ = ["CloudRunTarget", "GpuSpec", "target_from_dict"]


@dataclass(frozen=True)
class GpuSpec:
    type: str
    count: int = 1
    zonal_redundancy: bool = False


@dataclass(frozen=True)
class CloudRunTarget:
    name: str
    project: str
    region: str
    provider: Literal["gcp-cloud-run"] = "gcp-cloud-run"
    cpu: float = 1
    memory: str = "2Gi"
    gpu: GpuSpec | None = None
    cpu_always_allocated: bool = False
    min_instances: int = 0
    max_instances: int = 3
    concurrency: int = 4
    timeout_s: int = 300
    ingress: str = "internal"
    service_account: str | None = None
    public: bool = False
    invokers: tuple[str, ...] = ()
    deletion_protection: bool = True
    kms_key: str | None = None
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def memory_mib(self) -> int:
        """The memory limit in MiB."""
        amount = int(self.memory[:-2])
        return amount * 1024 if self.memory.endswith("Gi") else amount


def target_from_dict(name: str, d: dict[str, Any]) -> CloudRunTarget:
    """The typed target from its schema-valid manifest mapping (a GPU implies CPU always on)."""
    d = ints(d, "min_instances", "max_instances", "concurrency", "timeout_s")
    gpu = d.pop("gpu", None)
    gpu_spec = GpuSpec(**ints(gpu, "count")) if gpu else None
    if gpu_spec is not None and "cpu_always_allocated" not in d:
        d["cpu_always_allocated"] = True
    d["invokers"] = tuple(d.get("invokers", ()))
    return CloudRunTarget(name=name, **d, gpu=gpu_spec)
