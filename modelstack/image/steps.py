"""The image steps shared by `modelstack build` and `modelstack up`: render a target's build
context, smoke-test its image as a running container, push it by digest."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from modelstack.image.builder import BuiltImage
from modelstack.image.container_smoke import ContainerSmokeResult, smoke_test_image
from modelstack.image.context import BuildContext, render_context, resolve_ca_bundle
from modelstack.image.flavours import flavour_for
from modelstack.image.push import PushedImage, push_image
from modelstack.image.registries import Destination, destination_for
from modelstack.manifest.model import Manifest, Target
from modelstack.smoke.local import LocalBundle

if TYPE_CHECKING:
    import docker

__all__ = [
    "destination",
    "push_target_image",
    "smoke_test_target_image",
    "target_context",
]


def target_context(
    manifest: Manifest,
    target: Target,
    bundle: LocalBundle,
    *,
    base_image: str | None,
    ca_bundle: str | None,
) -> BuildContext:
    """The rendered build context of `target` (its tag says whether a build is needed)."""
    return render_context(
        manifest,
        target.name,
        flavour_for(target),
        bundle,
        base_image=base_image,
        ca_bundle=resolve_ca_bundle(manifest, ca_bundle),
    )


def smoke_test_target_image(
    client: docker.DockerClient,
    image: BuiltImage,
    manifest: Manifest,
    target: Target,
    bundle: LocalBundle,
) -> ContainerSmokeResult:
    """Every smoke test against the image running as a container on 127.0.0.1; a cloud entry
    whose tiers this machine cannot reach serves its own model alone, for the cases it answers."""
    from modelstack.routing.deploy_graph import tiers_elsewhere
    from modelstack.smoke.cases import answered_here
    from modelstack_runtime.routing_config import SERVE_ALONE_ENV

    environment, cases = dict(target.environment), bundle.cases
    if tiers_elsewhere(bundle.config.routing):
        environment[SERVE_ALONE_ENV] = "1"
        cases = answered_here(cases, manifest.name)
    return smoke_test_image(
        client, image.tag, flavour_for(target).protocol, cases, manifest.name,
        environment=environment,
    )  # fmt: skip


def destination(manifest: Manifest, target: Target, registry: str | None) -> Destination:
    """Where `target`'s image is pushed: its ECR / Artifact Registry, or `registry`."""
    return destination_for(manifest, target.name, target, registry)


def push_target_image(
    client: docker.DockerClient,
    image: BuiltImage,
    where: Destination,
    *,
    quiet: bool,
    stream: TextIO | None = None,
) -> PushedImage:
    """Push by digest, under the image's content tag; returns `repository@sha256:...`."""
    return push_image(
        client, image.tag, where, image.tag.rsplit(":", 1)[1], quiet=quiet, stream=stream
    )
