"""`modelstack up`: lint, test, evaluate, build, smoke-test the container, push, then roll out
with pre-traffic smoke tests and automatic rollback. Safe to run again after any failure."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING, Any

from modelstack.deploy.engines import engine_for, preflight
from modelstack.deploy.pipeline import (
    BuildOptions,
    build_release,
    check_manifest,
    evaluate_step,
    test_locally,
)
from modelstack.deploy.progress import Progress
from modelstack.deploy.release import Release, settings_digest
from modelstack.deploy.rollout import Interrupted, recover, roll_out
from modelstack.deploy.state import StateStore
from modelstack.deploy.summary import write_github_summary, write_json_summary
from modelstack.errors import ModelstackError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest, Target
from modelstack.manifest.targets import select_target
from modelstack.prompts import confirm
from modelstack.providers import provider_for
from modelstack.routing.deploy_graph import GraphNode, deploy_order, routing_object
from modelstack.signals import interrupts_as_keyboard
from modelstack.smoke.snapshot import save_snapshot, snapshot_path

if TYPE_CHECKING:
    from modelstack.evaluate.runner import EvaluationResult


def up(
    manifest_path: str,
    *,
    target: str | None = None,
    stack: str | None = None,
    yes: bool = False,
    fmt: str = "text",
    options: BuildOptions | None = None,
    backend: str | None = None,
) -> int:
    """Exit 0 deployed (or nothing to do), 1 a check or smoke test failed (traffic untouched or
    rolled back), 2 usage error, 3 infrastructure error, 130 interrupted (rolled back).

    A routed manifest's tiers are deployed first, each with its own full `up`, tiers of a tier
    before it; a tier that fails stops the run before the entry is touched.
    """
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    tiers = deploy_order(manifest)
    for node in tiers:  # a graph that cannot be wired fails before anything is deployed
        routing_object(node.manifest, node.target)
    routing_object(manifest, chosen)
    graph = f" after its tiers {', '.join(n.path for n in tiers)}" if tiers else ""
    confirm(
        f"deploy {manifest.name} {manifest.metadata.version} to {chosen.name}{graph}",
        yes,
        skip=not provider_for(chosen).is_cloud,
    )
    build = options or BuildOptions()
    summary: dict[str, Any] = {"command": "up", "model": manifest.name, "target": chosen.name}
    if tiers:
        summary["tiers"] = []
    try:
        for node in tiers:
            tier_summary = {"tier": node.path, "model": node.manifest.name}
            summary["tiers"].append(tier_summary)  # before the deploy: a failed one is listed
            _up_tier(node, build, backend, tier_summary, entry=manifest.name)
        _deploy(manifest, chosen, stack, build, backend, summary)
        return 0
    except ModelstackError as exc:  # a tier's: the entry's own filled in its summary already
        summary.setdefault("error", str(exc))
        raise
    finally:
        summary.setdefault("result", "failed")
        if fmt == "json":
            write_json_summary(summary)
        write_github_summary(summary)


def _up_tier(
    node: GraphNode,
    options: BuildOptions,
    backend: str | None,
    summary: dict[str, Any],
    *,
    entry: str,
) -> None:
    """One tier's own full `up`, filling `summary`; its error, naming the tier, stops the
    graph's deploy."""
    print(f"==> {node.describe()}: {node.manifest.path}", file=sys.stderr)
    summary["target"] = node.target.name
    try:
        _deploy(node.manifest, node.target, None, options, backend, summary)
    except ModelstackError as exc:
        exc.args = (
            f"{node.describe()} failed, so {entry} was not deployed and what served before "
            f"keeps serving: {exc}",
        )
        raise


def _deploy(
    manifest: Manifest,
    chosen: Target,
    stack: str | None,
    options: BuildOptions,
    backend: str | None,
    summary: dict[str, Any],
) -> None:
    """One service's `up`, its routing wired to tiers deployed already; fills `summary`."""
    progress = Progress()
    store = StateStore(manifest.directory, chosen.name, stack)
    try:
        with store.locked(), interrupts_as_keyboard():
            routing = routing_object(manifest, chosen)
            result = _up(manifest, chosen, store, progress, options, stack, backend, summary,
                         routing)  # fmt: skip
        summary["result"] = result
    except ModelstackError as exc:
        progress.abort(str(exc))
        summary.update(
            result="interrupted" if isinstance(exc, Interrupted) else "failed", error=str(exc)
        )
        raise
    except KeyboardInterrupt:
        progress.abort("interrupted")
        summary.update(result="interrupted")
        raise
    finally:
        summary["steps"] = progress.summary()


def _up(
    manifest: Manifest,
    target: Target,
    store: StateStore,
    progress: Progress,
    options: BuildOptions,
    stack: str | None,
    backend: str | None,
    summary: dict[str, Any],
    routing: dict[str, Any] | None = None,
) -> str:
    preflight(target)
    check_manifest(manifest, progress)
    bundle = test_locally(manifest, progress, routing=routing)
    evaluation = _evaluate(manifest, store, progress, summary)
    engine = engine_for(manifest, target, stack=stack, backend=backend, on_output=progress.note)
    state = recover(engine, store, progress)
    if state.stable is None and (adopted := engine.adopt()) is not None:
        progress.note(f"the target already serves version {adopted.version}: {adopted.image}")
        store.save(state := state.with_(stable=adopted))
    from modelstack.image.engine import docker_client

    def unchanged(image_id: str) -> bool:
        stable = state.stable
        if stable is None or (stable.image_id, stable.settings_sha256) != (
            image_id,
            settings_digest(target),
        ):
            return False
        if engine.ensure_endpoint():
            return True
        progress.note(f"version {stable.version} is not serving any more; deploying it again")
        return False

    client = docker_client()
    try:
        built = build_release(
            client,
            manifest,
            target,
            bundle,
            options,
            progress,
            unchanged=unchanged,
            prepare_registry=engine.prepare_registry,
        )
    finally:
        client.close()
    if built is None:
        assert state.stable is not None
        if evaluation is not None:  # the same model, measured again: keep the newest numbers
            stable = dataclasses.replace(state.stable, evaluation=_record(evaluation))
            store.save(store.load().with_(stable=stable))
        progress.skip(
            "deploy", f"version {state.stable.version} already serves this image and settings"
        )
        summary.update(
            version=state.stable.version, endpoint=state.endpoint, image=state.stable.image
        )
        return "unchanged"
    release = Release(
        version=str(state.next_version),
        image=built.image,
        model_version=manifest.metadata.version,
        model_sha256=built.model_sha256,
        manifest_sha256=built.manifest_sha256,
        image_id=built.image_id,
        settings_sha256=settings_digest(target),
        evaluation=_record(evaluation),
    )
    if not save_snapshot(snapshot_path(store.root, built.image_id), manifest, bundle.cases):
        progress.note("the smoke tests are too large to keep; a rollback will use the manifest's")
    result = roll_out(engine, store, release, bundle.cases, manifest.rollout, progress)
    summary.update(
        version=result.release.version, endpoint=engine.endpoint(), image=result.release.image
    )
    print(
        f"{manifest.name} version {result.release.version} serves 100% at {engine.endpoint()}",
        file=sys.stderr,
    )
    return "deployed"


def _evaluate(
    manifest: Manifest, store: StateStore, progress: Progress, summary: dict[str, Any]
) -> EvaluationResult | None:
    """The evaluation step, against what serves now: the stable release's recorded scores
    are the baseline of the relative gates."""
    if manifest.evaluation is None:
        return evaluate_step(manifest, progress, baseline=None)
    from modelstack.evaluate.recorded import recorded_scores
    from modelstack.evaluate.report import json_ready

    def keep(result: EvaluationResult) -> None:
        summary["evaluation"] = json_ready(result.to_dict())

    baseline = recorded_scores(store.load().stable, str(store.state_path))
    return evaluate_step(manifest, progress, baseline=baseline, on_result=keep)


def _record(result: EvaluationResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    from modelstack.evaluate.recorded import record_of

    return record_of(result)
