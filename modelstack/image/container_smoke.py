"""Smoke tests against a built image, run locally before it may be pushed.

The image runs on the host network, bound to 127.0.0.1. HTTP images are reached with the
smoke tests' `HttpClient` on a free port; Lambda images poll a local Runtime API served by this
process and are invoked with `LambdaRuntimeClient`. Both use `run_smoke_tests`, the one
comparison implementation.

Cold start is measured from the moment the engine is asked to start the container to the first
successful inference (the first smoke case's inputs). A container that exits or never becomes
ready fails with a `SmokeTestError` that shows the tail of its log.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from modelstack.errors import SmokeTestError
from modelstack.image.containers import RunningContainer, free_port, run_container
from modelstack.polling import poll_until
from modelstack.providers.local.invocations import InvocationBroker
from modelstack.providers.local.lambda_runtime_client import LambdaRuntimeClient
from modelstack.providers.local.runtime_api import RuntimeApiServer
from modelstack.smoke.cases import SmokeCase
from modelstack.smoke.clients import HttpClient, InferenceClient, InferenceFailed
from modelstack.smoke.runner import SmokeReport, run_smoke_tests

if TYPE_CHECKING:
    import docker

__all__ = ["ContainerSmokeResult", "smoke_test_image"]

LOG_TAIL_LINES: Final = 40
_READY_POLL_S: Final = 0.01


@dataclass(frozen=True)
class ContainerSmokeResult:
    report: SmokeReport
    cold_start_s: float
    """Container start -> first successful inference (or readiness, without smoke tests)."""


def smoke_test_image(
    client: docker.DockerClient,
    image: str,
    protocol: Literal["http", "lambda"],
    cases: list[SmokeCase],
    model_name: str,
    *,
    environment: Mapping[str, str] | None = None,
    start_timeout_s: float = 120.0,
    request_timeout_s: float = 30.0,
) -> ContainerSmokeResult:
    """Run `image`, wait for its first answer, then run every case; the container is removed."""
    if protocol == "lambda":
        return _lambda(client, image, cases, model_name, environment or {},
                       start_timeout_s, request_timeout_s)  # fmt: skip
    return _http(client, image, cases, model_name, environment or {},
                 start_timeout_s, request_timeout_s)  # fmt: skip


def _http(
    client: docker.DockerClient,
    image: str,
    cases: list[SmokeCase],
    model_name: str,
    environment: Mapping[str, str],
    start_timeout_s: float,
    request_timeout_s: float,
) -> ContainerSmokeResult:
    port = free_port()
    env = {**environment, "HOST": "127.0.0.1", "PORT": str(port)}
    with run_container(client, image, environment=env, name_prefix="modelstack-smoke") as running:
        _wait_http_ready(running, image, port, start_timeout_s)
        http_client = HttpClient(
            f"http://127.0.0.1:{port}", model_name, timeout_s=request_timeout_s
        )
        try:
            cold_start = _first_answer(running, image, cases, http_client)
            return ContainerSmokeResult(run_smoke_tests(cases, http_client), cold_start)
        finally:
            http_client.close()


def _lambda(
    client: docker.DockerClient,
    image: str,
    cases: list[SmokeCase],
    model_name: str,
    environment: Mapping[str, str],
    start_timeout_s: float,
    request_timeout_s: float,
) -> ContainerSmokeResult:
    broker = InvocationBroker(function_name=model_name, timeout_s=request_timeout_s)
    with RuntimeApiServer(broker) as api:
        env = {
            **environment,
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": model_name,  # the handler loads the model at init
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        with run_container(
            client, image, environment=env, name_prefix="modelstack-smoke"
        ) as running:
            running.on_exit(lambda c: broker.close(f"the container exited with code {c.exit_code}"))
            # The first event waits in the queue while the runtime starts: a cold start.
            lambda_client = LambdaRuntimeClient(broker, model_name, timeout_s=start_timeout_s)
            if not cases:
                _wait_alive(
                    running,
                    image,
                    broker.runtime_polled.is_set,
                    start_timeout_s,
                    "poll for invocations",
                )
            cold_start = _first_answer(running, image, cases, lambda_client)
            lambda_client.timeout_s = request_timeout_s
            return ContainerSmokeResult(run_smoke_tests(cases, lambda_client), cold_start)


def _first_answer(
    running: RunningContainer, image: str, cases: list[SmokeCase], client: InferenceClient
) -> float:
    """Seconds from container start to the first successful inference (or now, without cases)."""
    if cases:
        try:
            client.infer(cases[0].inputs)
        except InferenceFailed as exc:
            raise _not_serving(running, image, f"the first request failed: {exc}") from None
    return time.perf_counter() - running.started_at


def _wait_http_ready(running: RunningContainer, image: str, port: int, timeout_s: float) -> None:
    def ready() -> bool:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/v2/health/ready")
            response = connection.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False  # not listening yet
        finally:
            connection.close()

    _wait_alive(running, image, ready, timeout_s, "report ready on /v2/health/ready")


def _wait_alive(
    running: RunningContainer,
    image: str,
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
) -> None:
    """Poll `condition` until it holds; SmokeTestError when the container exits or time is up."""

    def met() -> bool:
        if condition():
            return True
        if running.exited.is_set():
            raise _not_serving(
                running, image, f"the container exited with code {running.exit_code}"
            )
        return False

    if not poll_until(met, timeout_s, _READY_POLL_S):
        raise _not_serving(running, image, f"the container did not {what} in time")


def _not_serving(running: RunningContainer, image: str, reason: str) -> SmokeTestError:
    running.exited.wait(2.0)  # let a crashing process finish writing its traceback
    return SmokeTestError(
        f"the image {image} does not serve: {reason}.\n"
        f"  last {LOG_TAIL_LINES} lines of the container's log:\n    "
        + running.logs(LOG_TAIL_LINES).replace("\n", "\n    ")
    )
