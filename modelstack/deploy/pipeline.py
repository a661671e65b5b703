"""The steps of `modelstack up` before the rollout: lint, local smoke tests, build, container
smoke tests and push. Each step reports through `Progress` and raises on failure."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from modelstack.deploy.progress import Progress
from modelstack.errors import ManifestError, SmokeTestError
from modelstack.manifest.model import LocalTarget, Manifest, Target
from modelstack.modelfile import sha256_file
from modelstack.smoke.local import LocalBundle, prepare_local
from modelstack.smoke.report import format_report

__all__ = ["BuildOptions", "BuiltRelease", "build_release", "check_manifest", "test_locally"]


@dataclass(frozen=True)
class BuildOptions:
    base_image: str | None = None
    ca_bundle: str | None = None
    registry: str | None = None


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


def test_locally(manifest: Manifest, progress: Progress) -> LocalBundle:
    """Step 2: every smoke test on onnxruntime in this process."""
    from modelstack.smoke.clients import InProcessClient
    from modelstack.smoke.runner import run_smoke_tests
    from modelstack_runtime.dataplane import load_dataplane

    progress.start("local smoke tests")
    bundle = prepare_local(manifest)
    report = run_smoke_tests(
        bundle.cases, InProcessClient(load_dataplane(bundle.config), manifest.name)
    )
    if not report.passed:
        raise SmokeTestError(
            "smoke tests failed locally:\n" + format_report(report, "text", manifest.name)
        )
    progress.done(f"{len(report.results)} passed")
    return bundle


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
    """Steps 3-5: build (or reuse), container smoke tests, push.

    None when `unchanged(image_id)` says this very image already serves as it should.
    `prepare_registry` runs just before the push (it creates a cloud repository that does
    not exist yet).
    """
    from modelstack.image.builder import ensure_image
    from modelstack.image.steps import (
        destination,
        push_target_image,
        smoke_test_target_image,
        target_context,
    )

    context = target_context(
        manifest, target, bundle, base_image=options.base_image, ca_bundle=options.ca_bundle
    )
    progress.start(f"build {context.tag}")
    image = ensure_image(client, context, quiet=progress.quiet)
    progress.done("built" if image.built else "unchanged, not rebuilt")
    model_sha = manifest.model.sha256  # the file matches it: prepare_local verified it
    manifest_sha = sha256_file(manifest.path)
    if unchanged(image.image_id):
        return None

    progress.start("container smoke tests")
    result = smoke_test_target_image(client, image, manifest, target, bundle)
    if not result.report.passed:
        raise SmokeTestError(
            "smoke tests failed in the container; nothing was pushed:\n"
            + format_report(result.report, "text", manifest.name)
        )
    progress.done(f"{len(result.report.results)} passed, cold start {result.cold_start_s:.2f} s")

    if isinstance(target, LocalTarget) and options.registry is None:
        progress.skip("push", "the local target runs the image where it was built")
        return BuiltRelease(image.image_id, image.image_id, model_sha, manifest_sha)
    prepare_registry()
    where = destination(manifest, target, options.registry)
    progress.start(f"push to {where.repository}")
    pushed = push_target_image(client, image, where, quiet=progress.quiet)
    progress.done(pushed.reference)
    return BuiltRelease(pushed.reference, image.image_id, model_sha, manifest_sha)
