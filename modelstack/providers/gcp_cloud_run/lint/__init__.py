"""Lint rules: Google Cloud Run targets."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import LintContext
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget

__all__ = ["SUPPORTED_GPUS", "cloud_run_targets", "gpu_targets"]

SUPPORTED_GPUS = ("nvidia-l4", "nvidia-rtx-pro-6000")
"""GPU types Cloud Run services accept."""


def cloud_run_targets(ctx: LintContext) -> Iterator[CloudRunTarget]:
    if ctx.manifest is not None:
        for target in ctx.manifest.targets.values():
            if isinstance(target, CloudRunTarget):
                yield target


def gpu_targets(ctx: LintContext) -> Iterator[CloudRunTarget]:
    return (t for t in cloud_run_targets(ctx) if t.gpu is not None)
