"""Building an image from a rendered context with the Docker SDK's low-level API.

Every build runs with host networking (the engine may have no bridge network at all). The raw
build output goes to a `BuildLog` (a file beside the manifest, one reported line per step, the
raw text only with `verbose`); a failure names the step, shows the log's tail and its path. An
image whose content tag is already present locally is not built again: that decision is one
`inspect` call.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from modelstack.errors import InfrastructureError
from modelstack.image.build_log import BuildLog
from modelstack.image.context import BuildContext
from modelstack.image.terminal import strip_ansi

if TYPE_CHECKING:
    import docker

__all__ = ["BuiltImage", "build_image", "ensure_image", "find_image"]


@dataclass(frozen=True)
class BuiltImage:
    """A local image: its tag, id, size and whether this run built it."""

    tag: str
    image_id: str
    size_bytes: int
    built: bool
    seconds: float
    packed_model_sha256: str | None = None
    """The digest of the packed model the image serves (its `model.packed.sha256` label)."""


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
    logs: Path | None = None,
    report: Callable[[str], None] | None = None,
    verbose: TextIO | None = None,
) -> BuiltImage:
    """The image of `context`: the existing one when its tag is present, else a new build.

    A build writes its log under `logs` (when given), reports each step through `report` and
    streams the raw output to `verbose` (when given).
    """
    started = time.perf_counter()
    packed = context.fast_start.packed.digest if context.fast_start else None
    existing = find_image(client, context.tag)
    if existing is not None:
        return BuiltImage(
            context.tag, existing["Id"], int(existing["Size"]), False,
            time.perf_counter() - started, packed,
        )  # fmt: skip
    log = BuildLog(logs, context.tag, report=report, verbose=verbose)
    with tempfile.TemporaryDirectory(prefix="modelstack-build-") as tmp:
        build_image(client, context.write(Path(tmp)), context.tag, log=log,
                    platform=context.platform, labels=context.build_labels)  # fmt: skip
    built = find_image(client, context.tag)
    if built is None:
        raise InfrastructureError(f"the build finished but image {context.tag} is not present")
    return BuiltImage(
        context.tag, built["Id"], int(built["Size"]), True, time.perf_counter() - started, packed
    )


def build_image(
    client: docker.DockerClient,
    directory: Path,
    tag: str,
    *,
    log: BuildLog | None = None,
    platform: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Build `directory` (with its Dockerfile) as `tag`; returns the image id."""
    sink = log or BuildLog(None, tag)
    ok = False
    try:
        image_id = _stream_build(client, directory, tag, sink, platform, labels)
        ok = True
    finally:
        sink.close(ok=ok)
    return image_id


def _stream_build(
    client: docker.DockerClient,
    directory: Path,
    tag: str,
    log: BuildLog,
    platform: str | None,
    labels: Mapping[str, str] | None,
) -> str:
    import docker

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
                raise InfrastructureError(_build_failed(tag, str(message), log))
            text = entry.get("stream")
            if isinstance(text, str) and text:
                log.feed(text)
            aux = entry.get("aux")
            if isinstance(aux, dict) and "ID" in aux:
                image_id = str(aux["ID"])
    except docker.errors.APIError as exc:
        raise InfrastructureError(_build_failed(tag, str(exc.explanation), log)) from None
    return image_id


def _engine_platform(client: docker.DockerClient) -> str:
    """`os/arch` of the engine, in the spelling `--platform` uses (linux/amd64)."""
    info = client.api.version()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(info.get("Arch", ""), info.get("Arch", ""))
    return f"{info.get('Os', 'linux')}/{arch}"


def _build_failed(tag: str, message: str, log: BuildLog) -> str:
    tail = log.tail()
    lines = "\n    ".join(tail) if tail else "(no output)"
    where = f" at step {log.step}" if log.step else ""
    saved = f"\n  full log: {log.path}" if log.path is not None else ""
    return (
        f"building {tag} failed{where}: {strip_ansi(message).strip()}\n"
        f"  last lines of the build log:\n    {lines}{saved}"
    )
