"""`modelstack destroy`: remove everything a target created (asks first unless --yes)."""

from __future__ import annotations

import sys

from modelstack.deploy.engines import engine_for
from modelstack.deploy.state import StateStore
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target
from modelstack.prompts import confirm


def destroy(
    manifest_path: str,
    *,
    target: str | None = None,
    stack: str | None = None,
    yes: bool = False,
    backend: str | None = None,
) -> int:
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    confirm(f"destroy every resource of {manifest.name} on {chosen.name}", yes)
    store = StateStore(manifest.directory, chosen.name, stack)
    with store.locked():
        engine_for(manifest, chosen, stack=stack, backend=backend).destroy()
        store.state_path.unlink(missing_ok=True)
        store.record({"event": "destroy", "result": "succeeded"})
    print(f"destroyed {manifest.name} on {chosen.name}", file=sys.stderr)
    return 0
