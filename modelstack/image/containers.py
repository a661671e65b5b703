"""Short-lived containers on the host network, always removed afterwards.

`run_container` creates, starts and yields a `RunningContainer`; leaving the `with` block by any
route (return, exception, Ctrl-C, SIGTERM or SIGHUP) removes the container. A watcher thread
notices when the container exits, so callers waiting on it can stop at once and show its log.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from modelstack.errors import InfrastructureError
from modelstack.signals import interrupts_as_keyboard

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

__all__ = ["EPHEMERAL_LABEL", "RunningContainer", "free_port", "run_container"]

EPHEMERAL_LABEL: Final = "dev.modelstack.ephemeral"
_WATCH_INTERVAL_S: Final = 0.1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningContainer:
    """A started container: whether it still runs, its exit code and its log."""

    def __init__(self, container: Container, started_at: float) -> None:
        self.container = container
        self.started_at = started_at
        """`time.perf_counter()` just before the engine was asked to start it."""
        self.exited = threading.Event()
        self.exit_code: int | None = None
        self._on_exit: list[Callable[[RunningContainer], None]] = []
        self._stop = threading.Event()

    @property
    def id(self) -> str:
        return str(self.container.id)

    def on_exit(self, callback: Callable[[RunningContainer], None]) -> None:
        """Call `callback(self)` from the watcher thread when the container stops."""
        self._on_exit.append(callback)
        if self.exited.is_set():
            callback(self)

    def logs(self, tail: int = 40) -> str:
        """The last `tail` lines of stdout and stderr together."""
        import docker

        try:
            raw = self.container.logs(stdout=True, stderr=True, tail=tail)
        except docker.errors.APIError:
            return "(the container's log is not available)"
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
        return text.rstrip("\n")

    def _watch(self) -> None:
        import docker

        api = self.container.client.api
        while not self._stop.is_set():
            try:
                state = api.inspect_container(self.id)["State"]
            except docker.errors.NotFound:
                state = {"Running": False, "ExitCode": None}
            except Exception:  # the engine hiccuped; look again shortly
                state = {"Running": True}
            if not state.get("Running", False) and not state.get("Restarting", False):
                self.exit_code = state.get("ExitCode")
                self.exited.set()
                for callback in self._on_exit:
                    callback(self)
                return
            self._stop.wait(_WATCH_INTERVAL_S)


@contextlib.contextmanager
def run_container(
    client: docker.DockerClient,
    image: str,
    *,
    environment: Mapping[str, str] | None = None,
    command: Sequence[str] | None = None,
    entrypoint: Sequence[str] | None = None,
    name_prefix: str = "modelstack",
    nano_cpus: int | None = None,
    mem_limit_mb: int | None = None,
) -> Iterator[RunningContainer]:
    """Run `image` on the host network; the container is removed however the block ends.

    `nano_cpus` (10^-9 CPUs) and `mem_limit_mb` limit it, as a platform's instance size would.
    """
    import docker

    kwargs: dict[str, Any] = {}
    if nano_cpus is not None:
        kwargs["nano_cpus"] = nano_cpus
    if mem_limit_mb is not None:
        kwargs["mem_limit"] = f"{mem_limit_mb}m"
    if entrypoint is not None:
        kwargs["entrypoint"] = list(entrypoint)
    try:
        container = client.containers.create(
            image,
            command=list(command) if command is not None else None,
            environment=dict(environment or {}),
            network_mode="host",
            labels={EPHEMERAL_LABEL: "true"},
            name=f"{name_prefix}-{uuid.uuid4().hex[:10]}",
            detach=True,
            **kwargs,
        )
    except docker.errors.APIError as exc:
        raise InfrastructureError(
            f"cannot create a container from {image}: {exc.explanation}"
        ) from None
    running: RunningContainer | None = None
    try:
        with interrupts_as_keyboard():
            started = time.perf_counter()
            try:
                container.start()
            except docker.errors.APIError as exc:
                raise InfrastructureError(f"cannot start {image}: {exc.explanation}") from None
            running = RunningContainer(container, started)
            watcher = threading.Thread(target=running._watch, name="container-watch", daemon=True)
            watcher.start()
            yield running
    finally:
        if running is not None:
            running._stop.set()
        _remove(container)


def _remove(container: Container) -> None:
    import docker

    for attempt in range(3):
        try:
            container.remove(force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if attempt == 2:
                raise
            time.sleep(0.5)
