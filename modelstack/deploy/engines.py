"""Choosing the engine for a target: each provider brings its own (local Docker, Pulumi)."""

from __future__ import annotations

import os
from collections.abc import Callable

from modelstack.deploy.engine import Engine
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import provider_for

__all__ = ["engine_for", "preflight"]


def preflight(target: Target) -> None:
    """Check the tools a target needs before anything is built: the Pulumi CLI for clouds."""
    provider_for(target).preflight(target)


def engine_for(
    manifest: Manifest,
    target: Target,
    *,
    stack: str | None = None,
    backend: str | None = None,
    on_output: Callable[[str], None] = lambda line: None,
) -> Engine:
    """The engine that deploys `target`. Cloud state defaults to a file backend in .modelstack/."""
    backend = backend or os.environ.get("PULUMI_BACKEND_URL")
    return provider_for(target).engine(
        manifest, target, stack=stack, backend=backend, on_output=on_output
    )
