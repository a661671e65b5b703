"""`modelstack rollback`: put an earlier release back on all traffic, through the same gated
rollout (its smoke tests run again before it gets traffic)."""

from __future__ import annotations

import sys
from dataclasses import replace

from modelstack.deploy.engines import engine_for
from modelstack.deploy.progress import Progress
from modelstack.deploy.rollout import recover, roll_out
from modelstack.deploy.signals import interrupts_as_keyboard
from modelstack.deploy.state import StateStore
from modelstack.errors import UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import LocalTarget, RolloutSpec
from modelstack.manifest.targets import select_target
from modelstack.prompts import confirm
from modelstack.smoke.local import prepare_local
from modelstack.smoke.snapshot import load_snapshot, snapshot_path


def rollback(
    manifest_path: str,
    *,
    target: str | None = None,
    to: str | None = None,
    stack: str | None = None,
    yes: bool = False,
    backend: str | None = None,
) -> int:
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    store = StateStore(manifest.directory, chosen.name, stack)
    progress = Progress()
    planned = store.load()  # read-only: nothing changes before the answer
    if not planned.previous:
        raise UsageError(f"target '{chosen.name}' has no earlier release to roll back to")
    known = {r.version: r for r in planned.previous}
    if to is not None and to not in known:
        raise UsageError(f"no earlier release '{to}' on '{chosen.name}'; known: {', '.join(known)}")
    chosen_release = known[to] if to is not None else planned.previous[0]
    current = planned.stable.version if planned.stable else "none"
    confirm(
        f"roll {chosen.name} back from version {current} to {chosen_release.version}",
        yes,
        skip=isinstance(chosen, LocalTarget),
    )
    with store.locked(), interrupts_as_keyboard():
        engine = engine_for(manifest, chosen, stack=stack, backend=backend, on_output=progress.note)
        state = recover(engine, store, progress)
        release = replace(chosen_release, version=str(state.next_version))
        cases = load_snapshot(snapshot_path(store.root, chosen_release.image_id))
        if cases is None:
            progress.note("no smoke tests were kept for that release; using the manifest's")
            cases = prepare_local(manifest).cases
        roll_out(engine, store, release, cases, RolloutSpec(strategy="all-at-once"), progress)
        store.record(
            {
                "event": "rollback",
                "version": release.version,
                "restored": chosen_release.version,
                "digest": release.digest,
                "result": "succeeded",
            }
        )
    print(
        f"{chosen.name} serves the release of version {chosen_release.version} again "
        f"(now version {release.version}) at {engine.endpoint()}",
        file=sys.stderr,
    )
    return 0
