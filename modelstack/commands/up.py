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
from modelstack.errors import ModelstackError, UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest, Target
from modelstack.manifest.targets import select_target
from modelstack.prompts import confirm
from modelstack.providers import provider_for
from modelstack.signals import interrupts_as_keyboard
from modelstack.smoke.snapshot import save_snapshot, snapshot_path

if TYPE_CHECKING:
    from modelstack.evaluate.runner import EvaluationResult


def _refuse_routing(manifest: Manifest) -> None:
    """A routed service cannot be deployed yet: refuse it rather than serve it unrouted."""
    if manifest.source.data.get("routing") is None:
        return
    where = manifest.source.span(["routing"], key=True).start(manifest.source.file)
    raise UsageError(
        f"{where}: `up` cannot deploy a service with a routing: section yet "
        "(its tiers are not deployed first, and the runtime's hops to them are not wired), "
        "so it would serve this model alone. `lint`, `plan` and `evaluate` (with --sweep) "
        "handle routing: today; remove the section to deploy this model on its own."
    )


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
    rolled back), 2 usage error, 3 infrastructure error, 130 interrupted (rolled back)."""
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    _refuse_routing(manifest)
    confirm(
        f"deploy {manifest.name} {manifest.metadata.version} to {chosen.name}",
        yes,
        skip=not provider_for(chosen).is_cloud,
    )
    progress = Progress()
    store = StateStore(manifest.directory, chosen.name, stack)
    summary: dict[str, Any] = {"command": "up", "model": manifest.name, "target": chosen.name}
    try:
        with store.locked(), interrupts_as_keyboard():
            result = _up(
                manifest,
                chosen,
                store,
                progress,
                options or BuildOptions(),
                stack,
                backend,
                summary,
            )
        summary["result"] = result
        return 0
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
        summary.setdefault("result", "failed")
        if fmt == "json":
            write_json_summary(summary)
        write_github_summary(summary)


def _up(
    manifest: Manifest,
    target: Target,
    store: StateStore,
    progress: Progress,
    options: BuildOptions,
    stack: str | None,
    backend: str | None,
    summary: dict[str, Any],
) -> str:
    preflight(target)
    check_manifest(manifest, progress)
    bundle = test_locally(manifest, progress)
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
