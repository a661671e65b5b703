"""Choosing the target a command acts on: the one named, else a sensible default."""

from __future__ import annotations

from typing import Literal

from modelstack.errors import UsageError
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import provider_for

__all__ = ["describe_targets", "select_target"]

Default = Literal["only", "local", "cloud"]


def describe_targets(manifest: Manifest) -> str:
    """`name (provider)` for every target, for messages."""
    return ", ".join(f"{name} ({t.provider})" for name, t in sorted(manifest.targets.items()))


def select_target(manifest: Manifest, name: str | None, *, default: Default = "only") -> Target:
    """The target called `name`. Without a name: the only target, else (by `default`) the
    only local target or the only cloud target; UsageError listing the targets otherwise."""
    if name is not None:
        if name not in manifest.targets:
            raise UsageError(
                f"{manifest.path} has no target '{name}'; its targets: {describe_targets(manifest)}"
            )
        return manifest.targets[name]
    targets = _candidates(list(manifest.targets.values()), default)
    if len(targets) == 1:
        return targets[0]
    kind = {"only": "", "local": "", "cloud": "cloud "}[default]
    raise UsageError(
        f"{manifest.path} has {len(targets)} {kind}targets; choose one with --target NAME: "
        f"{describe_targets(manifest)}"
    )


def _candidates(targets: list[Target], default: Default) -> list[Target]:
    """The targets `default` chooses among: all, the cloud ones, or those on this machine
    ("local": the non-cloud ones when there are any, else all)."""
    if default == "only":
        return targets
    if default == "cloud":
        return [t for t in targets if provider_for(t).is_cloud]
    return [t for t in targets if not provider_for(t).is_cloud] or targets
