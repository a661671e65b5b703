"""Choosing the engine for a target: local Docker, or Pulumi for the clouds."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from modelstack.deploy.engine import Engine
from modelstack.deploy.state import STATE_DIR
from modelstack.errors import UsageError
from modelstack.manifest.model import LocalTarget, Manifest, Target

__all__ = ["engine_for", "preflight", "state_dir"]


def state_dir(manifest: Manifest, target: Target) -> Path:
    """Where the local target keeps its router's routing table, pid and log."""
    return manifest.directory / STATE_DIR / "local" / target.name


def preflight(target: Target) -> None:
    """Check the tools a target needs before anything is built: the Pulumi CLI for clouds."""
    if not isinstance(target, LocalTarget):
        from modelstack.deploy.cloud import require_pulumi_cli

        require_pulumi_cli()


def engine_for(
    manifest: Manifest,
    target: Target,
    *,
    stack: str | None = None,
    backend: str | None = None,
    on_output: Callable[[str], None] = lambda line: None,
) -> Engine:
    """The engine that deploys `target`. Cloud state defaults to a file backend in .modelstack/."""
    if isinstance(target, LocalTarget):
        if stack is not None:
            raise UsageError("--stack is for cloud targets; a local target has one deployment")
        from modelstack.deploy.local.engine import LocalEngine
        from modelstack.image.engine import docker_client

        return LocalEngine(docker_client(), manifest.name, target, state_dir(manifest, target))
    from modelstack.deploy.cloud import AutomationStack, PulumiEngine

    backend = backend or os.environ.get("PULUMI_BACKEND_URL")
    boundary = AutomationStack(manifest, target.name, stack or target.name, backend)
    return PulumiEngine(manifest, target.name, boundary, on_output=on_output)
