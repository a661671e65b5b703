"""The routing graph of a manifest: its tiers' manifests, loaded once each, light imports only.

Lint (MS910-MS929) and the local target's `up`, `destroy` and `status` walk the same graph.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelstack.errors import ManifestError
from modelstack.manifest.model import Manifest
from modelstack.routing.spec import RoutingSpec, Tier, routing_of

__all__ = ["LoadedTier", "find_cycle", "load_tier", "tiers_of"]


@dataclass(frozen=True)
class LoadedTier:
    tier: Tier
    manifest: Manifest | None
    error: str | None = None
    """Why the tier's manifest could not be loaded (None when it was)."""


def load_tier(tier: Tier) -> LoadedTier:
    """The tier's manifest, or why it cannot be read (never raises for a bad tier).

    Each manifest file is read once while it is unchanged, however many rules and manifests
    name it (the cache is keyed by its path, size and modification time).
    """
    path = tier.manifest_path
    try:
        stat = path.stat()
    except OSError:
        stat = None
    if stat is None or not path.is_file():
        return LoadedTier(tier, None, f"tier '{tier.name}': no manifest at {path}")
    manifest, error = _load(path.resolve(), stat.st_size, stat.st_mtime_ns)
    return LoadedTier(tier, manifest, None if error is None else f"tier '{tier.name}': {error}")


@functools.lru_cache(maxsize=64)
def _load(path: Path, size: int, mtime_ns: int) -> tuple[Manifest | None, str | None]:
    from modelstack.manifest import load_manifest

    try:
        return load_manifest(path), None
    except ManifestError as exc:
        return None, str(exc).splitlines()[0]


def tiers_of(spec: RoutingSpec) -> Iterator[LoadedTier]:
    for tier in spec.tiers.values():
        yield load_tier(tier)


def _key(path: Path) -> Path:
    return path.resolve()


def find_cycle(manifest: Manifest, spec: RoutingSpec, *, max_depth: int = 16) -> list[str] | None:
    """The names along a chain of tiers that leads back to `manifest`, or None.

    Tier manifests that cannot be read or parsed end their branch (other rules report them).
    """
    start = _key(manifest.path)

    def walk(current: RoutingSpec, trail: list[str], seen: set[Path]) -> list[str] | None:
        if len(trail) >= max_depth:
            return None
        for tier in current.tiers.values():
            path = _key(tier.manifest_path)
            if path == start:
                return [*trail, tier.name]
            if path in seen or not path.is_file():
                continue
            loaded = load_tier(tier)
            if loaded.manifest is None:
                continue
            try:
                inner = routing_of(loaded.manifest)
            except ManifestError:
                continue
            if inner is not None:
                found = walk(inner, [*trail, tier.name], seen | {path})
                if found:
                    return found
        return None

    return walk(spec, [], {start})
