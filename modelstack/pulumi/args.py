"""The typed arguments of the ModelService component."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelstack.manifest.model import Manifest

if TYPE_CHECKING:
    import pulumi

__all__ = ["ModelServiceArgs", "SmokeRunner"]

SmokeRunner = Callable[[Manifest, str, dict[str, Any]], None]
"""Runs the manifest's smoke tests against a candidate: (manifest, target name, candidate
address) -> None, raising an exception whose text says what failed."""


@dataclass(frozen=True)
class ModelServiceArgs:
    """What to deploy, and how much traffic the new version gets.

    `image` must be pinned by digest (`repository@sha256:<64 hex>`): a mutable tag does not
    redeploy Lambda when it moves. Traffic: the new image becomes the *candidate* (a Lambda
    version, or a Cloud Run revision tagged `candidate`). With `stable_version` unset (the
    first deployment) the candidate takes all traffic; otherwise it takes `candidate_percent`
    and `stable_version` the rest. 0 deploys the candidate without traffic, 100 promotes it.
    """

    manifest: str | os.PathLike[str] | Manifest
    """A manifest path (loaded and linted) or a Manifest already loaded (linted unless
    `lint=False`)."""
    image: pulumi.Input[str]
    """The image to deploy, by digest: `repository@sha256:<64 hex>`, or an Output of one (an
    image built in the same program), whose digest is checked when it resolves; on Cloud Run
    the revision name, traffic list and candidate address are then Outputs too.
    `stable_version` and `candidate_percent` stay plain values: they decide which resources
    and hooks exist."""
    target: str | None = None
    """The target name; defaults to the manifest's only non-local target."""
    candidate_percent: int = 0
    """The share of traffic (0-100) the new version receives while `stable_version` serves."""
    stable_version: str | None = None
    """The version (Lambda version number or Cloud Run revision name) serving traffic now."""
    memory_mb: int | None = None
    """Overrides the target's memory (Lambda memory_mb; Cloud Run memory limit in MiB)."""
    name: str | None = None
    """Overrides the physical name prefix (default `<model>-<target>`)."""
    smoke_gate: bool = True
    """Attach a resource hook that smoke-tests the candidate before it receives traffic."""
    smoke_runner: SmokeRunner | None = None
    """Replaces the default runner (modelstack.smoke.candidate.run_candidate_smoke_tests)."""
    alarm_actions: tuple[str, ...] = ()
    """ARNs (SNS topics, ...) notified when a Lambda alarm fires."""
    lint: bool = True
    """Refuse a manifest with error-level lint findings. Turn off only for a manifest you
    linted yourself."""
    registry_only: bool = False
    """Create only the image repository (ECR / Artifact Registry), none of the serving
    resources: the first step of a deploy into an empty account, so that the image can be
    pushed before the function or service that runs it exists. `image` is not deployed."""
    deletion_protection: bool | None = None
    """Overrides the Cloud Run target's `deletion_protection` (False lets a failed first
    deployment, which never served, be removed)."""
