from __future__ import annotations

import difflib
from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.providers.gcp_cloud_run.lint import SUPPORTED_GPUS, gpu_targets


class GpuCpu(Rule):
    id = "MS401"
    summary = "Cloud Run GPU services need at least 4 CPU"
    description = "Cloud Run requires cpu: 4 or more on instances with a GPU."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in gpu_targets(ctx):
            if target.cpu < 4:
                yield Finding(
                    ("targets", target.name, "cpu"),
                    f"a GPU service needs at least 4 CPU; this one asks for {target.cpu:g}",
                )


class GpuMemory(Rule):
    id = "MS402"
    summary = "Cloud Run GPU services need at least 16Gi memory"
    description = "Cloud Run requires memory: 16Gi or more on instances with a GPU."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in gpu_targets(ctx):
            if target.memory_mib < 16 * 1024:
                yield Finding(
                    ("targets", target.name, "memory"),
                    f"a GPU service needs at least 16Gi of memory; this one asks for "
                    f"{target.memory}",
                )


class GpuCpuAllocation(Rule):
    id = "MS403"
    summary = "Cloud Run GPU services need CPU always allocated"
    description = (
        "GPU instances must use instance-based billing (CPU always allocated). It is the default "
        "when a GPU is set; do not set cpu_always_allocated: false."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in gpu_targets(ctx):
            if not target.cpu_always_allocated:
                yield Finding(
                    ("targets", target.name, "cpu_always_allocated"),
                    "a GPU service needs CPU always allocated; remove cpu_always_allocated: false",
                )


class GpuType(Rule):
    id = "MS404"
    summary = "The GPU type must be one Cloud Run offers"
    description = f"Supported GPU types: {', '.join(SUPPORTED_GPUS)}."

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in gpu_targets(ctx):
            assert target.gpu is not None
            if target.gpu.type not in SUPPORTED_GPUS:
                close = difflib.get_close_matches(target.gpu.type, SUPPORTED_GPUS, n=1)
                hint = f" Did you mean '{close[0]}'?" if close else ""
                yield Finding(
                    ("targets", target.name, "gpu", "type"),
                    f"unsupported GPU type '{target.gpu.type}'; Cloud Run offers "
                    f"{', '.join(SUPPORTED_GPUS)}.{hint}",
                )


class GpuQuota(Rule):
    id = "MS405"
    severity = "warning"
    summary = "Max instances may exceed the usual GPU quota"
    description = (
        "Projects usually get a quota of 3 GPUs per region for Cloud Run. More max instances "
        "(times GPUs per instance) than that fails to scale unless the quota was raised."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for target in gpu_targets(ctx):
            assert target.gpu is not None
            gpus = target.max_instances * target.gpu.count
            if gpus > 3:
                yield Finding(
                    ("targets", target.name, "max_instances"),
                    f"up to {gpus} GPUs may be needed; the usual Cloud Run GPU quota is 3 per "
                    "region. Lower max_instances or check your quota.",
                )
