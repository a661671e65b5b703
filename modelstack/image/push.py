"""Pushing an image and returning the reference that pins it: `repository@sha256:<digest>`.

The Docker engine reports a registry's refusal inside the streamed push progress (an entry with
`errorDetail`), not as an HTTP status of the API call, so every entry is checked. Refused
credentials fail at once with a `RegistryError`; transient failures (connection reset, timeout,
5xx, rate limits) are retried with exponential backoff, a bounded number of times.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TextIO

from modelstack.errors import InfrastructureError, RegistryError
from modelstack.image.push_meter import PushMeter
from modelstack.image.registries import PASSWORD_ENV, USERNAME_ENV, Destination

if TYPE_CHECKING:
    import docker

__all__ = ["PushedImage", "classify_push_error", "push_image"]

ATTEMPTS: Final = 4
FIRST_BACKOFF_S: Final = 0.5

_AUTH_MARKERS: Final = (
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "access denied",
    "denied:",
    "requested access to the resource is denied",
    "401",
    "403",
)
_TRANSIENT_MARKERS: Final = (
    "timeout",
    "timed out",
    "connection reset",
    "broken pipe",
    "eof",
    "connection refused",
    "toomanyrequests",
    "too many requests",
    "500 internal server error",
    "502",
    "503",
    "504",
    "service unavailable",
    "temporarily unavailable",
)


@dataclass(frozen=True)
class PushedImage:
    repository: str
    tag: str
    digest: str

    @property
    def reference(self) -> str:
        """`repository@sha256:...`, the only form modelstack deploys."""
        return f"{self.repository}@{self.digest}"


def classify_push_error(message: str) -> str:
    """'auth', 'transient' or 'fatal' for an error message from a push."""
    lowered = message.lower()
    if any(marker in lowered for marker in _AUTH_MARKERS):
        return "auth"
    if any(marker in lowered for marker in _TRANSIENT_MARKERS):
        return "transient"
    return "fatal"


def push_image(
    client: docker.DockerClient,
    image: str,
    destination: Destination,
    tag: str,
    *,
    quiet: bool = False,
    stream: TextIO | None = None,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
) -> PushedImage:
    """Tag `image` as `destination.repository:tag`, push it, return its digest reference.

    Unless quiet, progress (layers and bytes) goes to `stream` (default stderr): a live line
    on a terminal, plain lines otherwise.
    """
    import docker

    out = stream or sys.stderr
    try:
        client.api.tag(image, destination.repository, tag=tag)
    except docker.errors.APIError as exc:
        raise InfrastructureError(f"cannot tag {image}: {exc.explanation}") from None
    delay = FIRST_BACKOFF_S
    for attempt in range(1, attempts + 1):
        try:
            meter = None if quiet else PushMeter(out)
            digest = _push_once(client, destination, tag, meter)
            if meter is not None:
                meter.finish()
            return PushedImage(destination.repository, tag, digest)
        except _TransientPushError as exc:
            if attempt == attempts:
                raise RegistryError(
                    f"pushing to {destination.registry} failed {attempts} times; last error: "
                    f"{exc}. Is the registry up and reachable from the Docker engine?"
                ) from None
            if not quiet:
                out.write(f"push failed ({exc}); retrying in {delay:.1f} s\n")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class _TransientPushError(Exception):
    pass


def _push_once(
    client: docker.DockerClient, destination: Destination, tag: str, meter: PushMeter | None
) -> str:
    import docker
    import requests

    digest: str | None = None
    kwargs: dict[str, Any] = {}
    if destination.auth is not None:
        kwargs["auth_config"] = destination.auth
    try:
        for entry in client.api.push(
            destination.repository, tag=tag, stream=True, decode=True, **kwargs
        ):
            if "errorDetail" in entry or "error" in entry:
                detail = entry.get("errorDetail") or {}
                _raise_for(destination, str(detail.get("message") or entry.get("error")))
            aux = entry.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = str(aux["Digest"])
            if meter is not None:
                meter.feed(entry)
    except docker.errors.APIError as exc:
        _raise_for(destination, str(exc.explanation or exc))
    except requests.exceptions.RequestException as exc:
        raise _TransientPushError(f"the Docker engine connection failed: {exc}") from None
    if digest is None:
        raise RegistryError(
            f"the push to {destination.repository}:{tag} finished without reporting a digest"
        )
    return digest


def _raise_for(destination: Destination, message: str) -> None:
    kind = classify_push_error(message)
    if kind == "auth":
        how = (
            "the credentials given were refused"
            if destination.auth is not None
            else f"no credentials were given; set {USERNAME_ENV} and {PASSWORD_ENV} or run "
            f"`docker login {destination.registry}`"
        )
        raise RegistryError(
            f"registry {destination.registry} refused the push of {destination.repository} "
            f"({message.strip()}): {how}"
        )
    if kind == "transient":
        raise _TransientPushError(message.strip())
    raise RegistryError(f"pushing {destination.repository} failed: {message.strip()}")
