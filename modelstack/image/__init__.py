"""Container images: render a build context, build, smoke-test in a container, push by digest.

    context = render_context(manifest, target_name, flavour_for(target), prepare_local(manifest))
    client = docker_client()
    image = ensure_image(client, context)          # no build when the content tag exists
    result = smoke_test_image(client, image.tag, context.flavour.protocol, cases, name)
    pushed = push_image(client, image.tag, destination_for(...), tag)   # repo@sha256:...

Every name is imported from its module on first use, so a process that only needs tags or
labels (`modelstack.image.tags`) pays for neither numpy nor Docker. Docker itself is imported
only when a function that talks to the engine runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from modelstack.image.builder import BuiltImage, build_image, ensure_image, find_image
    from modelstack.image.container_smoke import ContainerSmokeResult, smoke_test_image
    from modelstack.image.containers import RunningContainer, free_port, run_container
    from modelstack.image.context import (
        BuildContext,
        render_context,
        resolve_ca_bundle,
        runtime_package_dir,
    )
    from modelstack.image.dockerfile import (
        DockerfileOptions,
        render_dockerfile,
        render_requirements,
    )
    from modelstack.image.engine import docker_client
    from modelstack.image.flavours import FLAVOURS, Flavour, flavour_for
    from modelstack.image.invocations import Invocation, InvocationBroker, InvocationFailed
    from modelstack.image.lambda_runtime_api import LambdaRuntimeClient, RuntimeApiServer
    from modelstack.image.push import PushedImage, push_image
    from modelstack.image.record import BuildRecord, write_record
    from modelstack.image.registries import Destination, destination_for
    from modelstack.image.tags import content_digest, content_tag

__all__ = [
    "FLAVOURS",
    "BuildContext",
    "BuildRecord",
    "BuiltImage",
    "ContainerSmokeResult",
    "Destination",
    "DockerfileOptions",
    "Flavour",
    "Invocation",
    "InvocationBroker",
    "InvocationFailed",
    "LambdaRuntimeClient",
    "PushedImage",
    "RunningContainer",
    "RuntimeApiServer",
    "build_image",
    "content_digest",
    "content_tag",
    "destination_for",
    "docker_client",
    "ensure_image",
    "find_image",
    "flavour_for",
    "free_port",
    "push_image",
    "render_context",
    "render_dockerfile",
    "render_requirements",
    "resolve_ca_bundle",
    "run_container",
    "runtime_package_dir",
    "smoke_test_image",
    "write_record",
]

_MODULES: Final = {
    "builder": ("BuiltImage", "build_image", "ensure_image", "find_image"),
    "container_smoke": ("ContainerSmokeResult", "smoke_test_image"),
    "containers": ("RunningContainer", "free_port", "run_container"),
    "context": ("BuildContext", "render_context", "resolve_ca_bundle", "runtime_package_dir"),
    "dockerfile": ("DockerfileOptions", "render_dockerfile", "render_requirements"),
    "engine": ("docker_client",),
    "flavours": ("FLAVOURS", "Flavour", "flavour_for"),
    "invocations": ("Invocation", "InvocationBroker", "InvocationFailed"),
    "lambda_runtime_api": ("LambdaRuntimeClient", "RuntimeApiServer"),
    "push": ("PushedImage", "push_image"),
    "record": ("BuildRecord", "write_record"),
    "registries": ("Destination", "destination_for"),
    "tags": ("content_digest", "content_tag"),
}
_HOME: Final = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
