"""The steps before a rollout: lint, local smoke tests, evaluation, build, container smoke
tests and push.

`modelstack build` runs the image steps (build, container smoke tests, push) and `modelstack up`
runs all of them, through the same functions and the same `Progress` display. Each step
reports through `Progress`; the steps of `up` raise on failure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelstack.deploy.progress import Progress
from modelstack.errors import GateFailedError, ManifestError, SmokeTestError
from modelstack.manifest.model import Manifest, Target
from modelstack.modelfile import sha256_file
from modelstack.providers import provider_for
from modelstack.routing.deploy_graph import tiers_elsewhere
from modelstack.routing.spec import RoutingSpec, routing_of
from modelstack.smoke.cases import answered_here
from modelstack.smoke.local import LocalBundle, prepare_local
from modelstack.smoke.report import format_report

if TYPE_CHECKING:
    from modelstack.evaluate.runner import EvaluationResult
    from modelstack.evaluate.scoring import ModelScores
    from modelstack.image.builder import BuiltImage
    from modelstack.image.container_smoke import ContainerSmokeResult
    from modelstack.image.push import PushedImage
    from modelstack.image.registries import Destination

__all__ = [
    "BuildOptions",
    "BuiltRelease",
    "build_release",
    "build_step",
    "check_manifest",
    "container_smoke_step",
    "evaluate_step",
    "push_step",
    "test_locally",
]


@dataclass(frozen=True)
class BuildOptions:
    base_image: str | None = None
    ca_bundle: str | None = None
    registry: str | None = None
    verbose: bool = False
    """Stream the engine's raw build output as well as the one line per step."""


@dataclass(frozen=True)
class BuiltRelease:
    """What the pipeline produced: an image reference the engine can run, by digest or id."""

    image: str
    image_id: str
    model_sha256: str
    manifest_sha256: str


def check_manifest(manifest: Manifest, progress: Progress) -> None:
    """Step 1: lint; error-level findings stop the deploy."""
    from modelstack.lint import lint_file

    progress.start("lint")
    diagnostics = lint_file(manifest.path)
    errors = [d for d in diagnostics if d.severity == "error"]
    for diagnostic in diagnostics:
        progress.note(str(diagnostic))
    if errors:
        raise ManifestError(f"lint found {len(errors)} error(s); fix them and run again")
    progress.done(f"{len(diagnostics)} warning(s)" if diagnostics else "clean")


def test_locally(
    manifest: Manifest, progress: Progress, *, routing: dict[str, Any] | None = None
) -> LocalBundle:
    """Step 2: every smoke test on onnxruntime in this process (`routing`: through the tiers)."""
    from modelstack.smoke.clients import InProcessClient
    from modelstack.smoke.runner import run_smoke_tests
    from modelstack_runtime.dataplane import load_dataplane

    progress.start("local smoke tests")
    bundle = prepare_local(manifest, routing=routing)
    config, cases = bundle.config, bundle.cases
    if tiers_elsewhere(routing):
        config, cases = (
            dataclasses.replace(config, routing=None),
            answered_here(cases, manifest.name),
        )
        progress.note(
            f"its tiers run on the cloud: {len(cases)} of {len(bundle.cases)} smoke test(s) run "
            "against this model alone here; the candidate's run through the tiers"
        )
    client = InProcessClient(load_dataplane(config), manifest.name)
    try:
        report = run_smoke_tests(cases, client)
    finally:
        client.close()
    if not report.passed:
        raise SmokeTestError(
            "smoke tests failed locally:\n" + format_report(report, "text", manifest.name)
        )
    progress.done(f"{len(report.results)} passed")
    return bundle


def evaluate_step(
    manifest: Manifest,
    progress: Progress,
    *,
    baseline: ModelScores | None,
    on_result: Callable[[EvaluationResult], None] = lambda result: None,
) -> EvaluationResult | None:
    """Step 3: the labelled evaluation and its gates, in this process, before anything is
    built. `baseline` (the serving release's recorded result) gives `max_drop` and
    `min_improvement_pct` their reference unless evaluation.baseline names a model.
    `on_result` sees the result, passed or not; then a failed gate raises GateFailedError.
    None when the manifest has no evaluation section."""
    if manifest.evaluation is None:
        progress.skip("evaluation", "the manifest has no evaluation section")
        return None
    routing = routing_of(manifest)
    if routing is not None and routing.escalate:
        _cascade_gates(manifest, routing, progress)
        return None
    from modelstack.evaluate.report import format_evaluation
    from modelstack.evaluate.runner import evaluate_manifest

    progress.start("evaluation")
    result = evaluate_manifest(manifest, baseline=baseline)
    on_result(result)
    for gate in result.gates:
        progress.note(gate.describe())
    if not result.passed:
        failed = [g for g in result.gates if not g.passed]
        progress.fail(f"{len(failed)} of {len(result.gates)} gate(s) failed")
        raise GateFailedError(
            "the evaluation failed; nothing was built and traffic is untouched:\n"
            + format_evaluation(result, "text")
        )
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in result.candidate.metrics.items())
    progress.done(f"{len(result.gates)} gate(s) passed; {metrics}")
    return result


def _cascade_gates(manifest: Manifest, routing: RoutingSpec, progress: Progress) -> None:
    """A cascade's gates hold for the cascade as a whole, as `evaluate` reports it: the entry's
    model with escalation to its tiers, each tier's model run in this process."""
    from modelstack.routing.cascade_eval_report import format_cascade
    from modelstack.routing.cascade_eval_run import evaluate_cascade, runtime_decision

    progress.start("evaluation")
    result = evaluate_cascade(manifest, routing, runtime_decision)
    for gate in result.gates:
        progress.note(gate.describe())
    if not result.passed:
        failed = [g for g in result.gates if not g.passed]
        progress.fail(f"{len(failed)} of {len(result.gates)} gate(s) failed for the cascade")
        raise GateFailedError(
            "the cascade's evaluation failed; nothing was built and traffic is untouched:\n"
            + format_cascade(result, "text")
        )
    point = result.cascade
    progress.done(
        f"{len(result.gates)} gate(s) passed for the cascade; "
        f"{point.escalated} of {point.rows} escalated"
    )


def build_step(
    client: Any,
    manifest: Manifest,
    target: Target,
    bundle: LocalBundle,
    options: BuildOptions,
    progress: Progress,
) -> BuiltImage:
    """Build the target's image, or reuse it when its content tag is present.

    One line per build step; the full log goes to `.modelstack/logs/` beside the manifest.
    """
    from modelstack.image.build_log import LOGS_DIR
    from modelstack.image.builder import ensure_image
    from modelstack.image.steps import target_context

    context = target_context(
        manifest, target, bundle, base_image=options.base_image, ca_bundle=options.ca_bundle
    )
    progress.start(f"build {context.tag}")
    image = ensure_image(
        client,
        context,
        logs=manifest.directory / LOGS_DIR,
        report=None if progress.quiet else progress.note,
        verbose=progress.stream if options.verbose and not progress.quiet else None,
    )
    progress.done("built" if image.built else "unchanged, not rebuilt")
    return image


def container_smoke_step(
    client: Any,
    image: BuiltImage,
    manifest: Manifest,
    target: Target,
    bundle: LocalBundle,
    progress: Progress,
) -> ContainerSmokeResult:
    """Every smoke test against the image running as a container; the caller judges it."""
    from modelstack.image.steps import smoke_test_target_image

    progress.start("container smoke tests")
    result = smoke_test_target_image(client, image, manifest, target, bundle)
    passed = sum(1 for r in result.report.results if r.passed)
    total = len(result.report.results)
    if result.report.passed:
        progress.done(f"{total} passed, cold start {result.cold_start_s:.2f} s")
    else:
        progress.fail(f"{total - passed} of {total} failed")
    return result


def push_step(
    client: Any, image: BuiltImage, where: Destination, progress: Progress
) -> PushedImage:
    """Push by digest; layers and bytes as it goes."""
    from modelstack.image.steps import push_target_image

    progress.start(f"push to {where.repository}")
    pushed = push_target_image(client, image, where, quiet=progress.quiet, stream=progress.stream)
    progress.done(pushed.reference)
    return pushed


def build_release(
    client: Any,
    manifest: Manifest,
    target: Target,
    bundle: LocalBundle,
    options: BuildOptions,
    progress: Progress,
    *,
    unchanged: Callable[[str], bool],
    prepare_registry: Callable[[], None] = lambda: None,
) -> BuiltRelease | None:
    """Steps 3-5 of `up`: build (or reuse), container smoke tests, push.

    None when `unchanged(image_id)` says this very image already serves as it should.
    `prepare_registry` runs just before the push (it creates a cloud repository that does
    not exist yet).
    """
    from modelstack.image.steps import destination

    image = build_step(client, manifest, target, bundle, options, progress)
    model_sha = manifest.model.sha256  # the file matches it: prepare_local verified it
    manifest_sha = sha256_file(manifest.path)
    if unchanged(image.image_id):
        return None

    result = container_smoke_step(client, image, manifest, target, bundle, progress)
    if not result.report.passed:
        raise SmokeTestError(
            "smoke tests failed in the container; nothing was pushed:\n"
            + format_report(result.report, "text", manifest.name)
        )
    if not provider_for(target).is_cloud and options.registry is None:
        progress.skip("push", "the local target runs the image where it was built")
        return BuiltRelease(image.image_id, image.image_id, model_sha, manifest_sha)
    prepare_registry()
    pushed = push_step(client, image, destination(manifest, target, options.registry), progress)
    return BuiltRelease(pushed.reference, image.image_id, model_sha, manifest_sha)
