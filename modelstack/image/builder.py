"""Building an image from a rendered context with the Docker SDK's low-level API.

Every build runs with host networking (the engine may have no bridge network at all). Progress
lines stream to stderr unless quiet. An image whose content tag is already present locally is
not built again: that decision is one `inspect` call.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from modelstack.errors import InfrastructureError
from modelstack.image.context import BuildContext

if TYPE_CHECKING:
    import docker

__all__ = ["BuiltImage", "build_image", "ensure_image", "find_image"]

_LOG_TAIL: Final = 30


@dataclass(frozen=True)
class BuiltImage:
    """A local image: its tag, id, size and whether this run built it."""

    tag: str
    image_id: str
    size_bytes: int
    built: bool
    seconds: float


def find_image(client: docker.DockerClient, tag: str) -> dict[str, Any] | None:
    """The engine's `inspect` document of `tag`, or None when no such image is present."""
    import docker

    try:
        found: dict[str, Any] = client.api.inspect_image(tag)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        raise InfrastructureError(f"cannot inspect image {tag}: {exc.explanation}") from None
    return found


def ensure_image(
    client: docker.DockerClient,
    context: BuildContext,
    *,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> BuiltImage:
    """The image of `context`: the existing one when its tag is present, else a new build."""
    started = time.perf_counter()
    existing = find_image(client, context.tag)
    if existing is not None:
        return BuiltImage(
            context.tag, existing["Id"], int(existing["Size"]), False, time.perf_counter() - started
        )
    with tempfile.TemporaryDirectory(prefix="modelstack-build-") as tmp:
        build_image(client, context.write(Path(tmp)), context.tag, quiet=quiet, stream=stream,
                    platform=context.platform, labels=context.build_labels)  # fmt: skip
    built = find_image(client, context.tag)
    if built is None:
        raise InfrastructureError(f"the build finished but image {context.tag} is not present")
    return BuiltImage(
        context.tag, built["Id"], int(built["Size"]), True, time.perf_counter() - started
    )


def build_image(
    client: docker.DockerClient,
    directory: Path,
    tag: str,
    *,
    quiet: bool = False,
    stream: TextIO | None = None,
    platform: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build `directory` (with its Dockerfile) as `tag`; returns the image id.

    `labels` are set by the engine beside the context (provenance outside the content tag).
    """
    import docker

    out = stream or sys.stderr
    tail: deque[str] = deque(maxlen=_LOG_TAIL)
    image_id = ""
    kwargs: dict[str, Any] = {"labels": dict(labels)} if labels else {}
    if platform and platform != _engine_platform(client):
        kwargs["platform"] = platform
    try:
        for entry in client.api.build(
            path=str(directory),
            tag=tag,
            network_mode="host",
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
            **kwargs,
        ):
            if "error" in entry or "errorDetail" in entry:
                message = entry.get("errorDetail", {}).get("message") or entry.get("error")
                raise InfrastructureError(_build_failed(tag, str(message), tail))
            text = entry.get("stream")
            if isinstance(text, str) and text:
                tail.extend(line for line in text.splitlines() if line.strip())
                if not quiet:
                    out.write(text)
                    out.flush()
            aux = entry.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise InfrastructureError(_build_failed(tag, str(exc.explanation), tail)) from None
    return image_id


def _engine_platform(client: docker.DockerClient) -> str:
    """`os/arch` of the engine, in the spelling `--platform` uses (linux/amd64)."""
    info = client.api.version()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(info.get("Arch", ""), info.get("Arch", ""))
    return f"{info.get('Os', 'linux')}/{arch}"


def _build_failed(tag: str, message: str, tail: deque[str]) -> str:
    lines = "\n    ".join(tail) if tail else "(no output)"
    return f"building {tag} failed: {message.strip()}\n  last lines of the build log:\n    {lines}"
