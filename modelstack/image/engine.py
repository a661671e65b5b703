"""Connecting to the Docker engine, with a message that says how to start it."""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Final

from modelstack.errors import DockerUnavailableError

if TYPE_CHECKING:
    import docker

__all__ = ["START_HINT", "docker_client"]

START_HINT: Final = (
    "Start the engine: `sudo scripts/docker-services` in a modelstack checkout (an engine "
    "without a bridge network plus the local test registries), or "
    "`sudo dockerd --bridge=none --iptables=false --ip-masq=false`, or "
    "`sudo systemctl start docker`. modelstack talks to $DOCKER_HOST when it is set, "
    "else to /var/run/docker.sock."
)


def docker_client(timeout_s: float = 120.0) -> docker.DockerClient:
    """A client whose engine answered a ping; DockerUnavailableError otherwise. Close it."""
    import docker
    import requests

    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where.startswith("unix://"):
        _probe_unix_socket(where)
    client: docker.DockerClient | None = None
    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if client is not None:
            client.close()
        raise DockerUnavailableError(
            f"the Docker engine at {where} does not answer ({_reason(exc)}). {START_HINT}"
        ) from None
    return client


def _probe_unix_socket(where: str) -> None:
    """Connect once ourselves: cheaper than the SDK's retries, and no socket left open."""
    path = where[len("unix://") :]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
        except OSError as exc:
            raise DockerUnavailableError(
                f"the Docker engine at {where} does not answer ({_reason(exc)}). {START_HINT}"
            ) from None


def _reason(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, FileNotFoundError) or "FileNotFoundError" in text or "No such file" in text:
        return "no socket there"
    if isinstance(exc, PermissionError) or "Permission denied" in text:
        return "permission denied on the socket; add your user to the docker group"
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return "connection refused"
    return text.splitlines()[0][:300] if text else type(exc).__name__
