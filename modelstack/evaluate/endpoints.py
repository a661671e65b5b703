"""Evaluating what a target serves: a client for its deployed, stable endpoint.

- local, http flavour: the router `up` starts, `http://127.0.0.1:<port>`, which must answer its
  readiness route first;
- local, lambda flavour: the same router's Lambda Invoke API, function `<model>.<target>`,
  alias `live`, through boto3;
- aws-lambda: the function's `live` alias through the Invoke API, and gcp-cloud-run: the
  service URL, both through the clients the pre-traffic smoke tests use
  (`smoke.candidate.candidate_client`). Where the function or service is comes from the
  target's Pulumi stack outputs, as `up` left them.

Each provider says where its stable endpoint is (`Provider.serving_address`).
"""

from __future__ import annotations

import http.client
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

from modelstack.errors import InfrastructureError, UsageError
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import provider_for
from modelstack.smoke.candidate import candidate_client
from modelstack.smoke.clients import InferenceClient

__all__ = ["PROBE_TIMEOUT_S", "endpoint_client", "serving_address"]

PROBE_TIMEOUT_S = 5.0

ClientFactory = Callable[[Manifest, Mapping[str, Any]], InferenceClient]


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/v2/health/ready")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _not_deployed(manifest: Manifest, name: str, where: str) -> InfrastructureError:
    return InfrastructureError(
        f"--against {name}: {where}; deploy it with `modelstack up {manifest.path} --target {name}`"
    )


def _local_client(manifest: Manifest, target: Target) -> InferenceClient:
    """A client for a target served on this machine, once it answers."""
    provider = provider_for(target)
    address = provider.serving_address(manifest, target, {})
    if address is None:
        raise UsageError(f"--against {target.name}: provider {target.provider!r} has no endpoint")
    url, port = str(address["url"]), int(address["port"])
    if address["protocol"] == "http":
        if not _ready(port):
            raise _not_deployed(manifest, target.name, f"nothing ready answers at {url}")
    elif not _listening(port):
        raise _not_deployed(manifest, target.name, f"no Invoke API listens at {url}")
    return provider.candidate_client(manifest, address)


def serving_address(
    manifest: Manifest, target: Target, outputs: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Where a target's stable endpoint is (for a cloud target, from its stack outputs: the
    Lambda function's `live` alias, or the Cloud Run service URL, not a revision's tag URL).
    None when the stack serves nothing."""
    return provider_for(target).serving_address(manifest, target, outputs)


def _stack_outputs(
    manifest: Manifest, target: Target, stack: str | None, backend: str | None
) -> dict[str, Any]:
    from modelstack.deploy.cloud import AutomationStack

    backend = backend or os.environ.get("PULUMI_BACKEND_URL")
    return AutomationStack(manifest, target.name, stack or target.name, backend).outputs()


def endpoint_client(
    manifest: Manifest,
    target_name: str,
    *,
    stack: str | None = None,
    backend: str | None = None,
    outputs: Callable[[], Mapping[str, Any]] | None = None,
    client_factory: ClientFactory = candidate_client,
) -> InferenceClient:
    """A client for what `target_name` serves to its users now.

    For cloud targets `outputs` reads the stack's outputs (default: the Pulumi stack `stack`,
    else the target's name, in `backend`, else PULUMI_BACKEND_URL, else `.modelstack/pulumi`);
    `client_factory` makes the client from the address (default: the smoke tests' own)."""
    target = manifest.targets.get(target_name)
    if target is None:
        known = ", ".join(manifest.targets)
        raise UsageError(f"{manifest.path}: no target '{target_name}' (targets: {known})")
    if not provider_for(target).is_cloud:
        return _local_client(manifest, target)
    read = outputs or (lambda: _stack_outputs(manifest, target, stack, backend))
    address = serving_address(manifest, target, read())
    if address is None:
        raise _not_deployed(manifest, target_name, "its stack serves nothing yet")
    return client_factory(manifest, address)
