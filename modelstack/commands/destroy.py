"""`modelstack destroy`: remove everything a target created (asks first unless --yes).

For a routed manifest the entry goes first, so that nothing routes to a tier being removed;
`--with-tiers` then removes its tiers, each tier before the tiers it routes to.
"""

from __future__ import annotations

import sys

from modelstack.deploy.engines import engine_for
from modelstack.deploy.state import StateStore
from modelstack.errors import ManifestError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest, Target
from modelstack.manifest.targets import select_target
from modelstack.prompts import confirm
from modelstack.routing.deploy_graph import GraphNode, deploy_order
from modelstack.routing.spec import routing_of


def destroy(
    manifest_path: str,
    *,
    target: str | None = None,
    stack: str | None = None,
    yes: bool = False,
    backend: str | None = None,
    with_tiers: bool = False,
) -> int:
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    tiers = _tiers(manifest, required=with_tiers)
    removing = list(reversed(tiers)) if with_tiers else []
    also = f" and of its tiers {', '.join(n.path for n in removing)}" if removing else ""
    confirm(f"destroy every resource of {manifest.name} on {chosen.name}{also}", yes)
    _destroy_one(manifest, chosen, stack, backend)
    for node in removing:
        _destroy_one(node.manifest, node.target, None, backend)
    if tiers and not with_tiers:
        kept = ", ".join(node.describe() for node in tiers)
        print(
            f"its tiers keep running: {kept}; remove them too with "
            f"`modelstack destroy {manifest_path} --target {chosen.name} --with-tiers`",
            file=sys.stderr,
        )
    return 0


def _tiers(manifest: Manifest, *, required: bool) -> list[GraphNode]:
    """The graph below `manifest`; a graph that cannot be read matters only to --with-tiers."""
    if routing_of(manifest) is None:
        return []
    try:
        return deploy_order(manifest)
    except ManifestError as exc:
        if required:
            raise ManifestError(f"--with-tiers: {exc}; nothing was destroyed") from None
        print(f"the tiers cannot be listed: {exc}", file=sys.stderr)
        return []


def _destroy_one(
    manifest: Manifest, chosen: Target, stack: str | None, backend: str | None
) -> None:
    store = StateStore(manifest.directory, chosen.name, stack)
    with store.locked():
        engine_for(manifest, chosen, stack=stack, backend=backend).destroy()
        store.state_path.unlink(missing_ok=True)
        store.record({"event": "destroy", "result": "succeeded"})
    print(f"destroyed {manifest.name} on {chosen.name}", file=sys.stderr)
