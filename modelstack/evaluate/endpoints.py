"""Evaluating what a target serves: a client for its deployed endpoint.

Only the local target's HTTP flavour is reachable this way for now (its stable endpoint is
`http://127.0.0.1:<port>`, the router `up` starts). The endpoint must answer its readiness
route first; otherwise the error says how to deploy it.
"""

from __future__ import annotations

import http.client

from modelstack.errors import InfrastructureError, UsageError
from modelstack.manifest.model import LocalTarget, Manifest
from modelstack.smoke.clients import HttpClient

__all__ = ["endpoint_client"]

PROBE_TIMEOUT_S = 5.0


def _ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT_S)
    try:
        connection.request("GET", "/v2/health/ready")
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def endpoint_client(manifest: Manifest, target_name: str) -> HttpClient:
    """A binary-tensor HTTP client for `target_name`'s stable endpoint."""
    target = manifest.targets.get(target_name)
    if target is None:
        known = ", ".join(manifest.targets)
        raise UsageError(f"{manifest.path}: no target '{target_name}' (targets: {known})")
    if not isinstance(target, LocalTarget) or target.flavour != "http":
        raise UsageError(
            f"--against {target_name}: only local targets of the http flavour can be evaluated "
            "through their endpoint; evaluate without --against runs the same runtime in-process"
        )
    if not _ready(target.port):
        raise InfrastructureError(
            f"--against {target_name}: nothing ready answers at http://127.0.0.1:{target.port}; "
            f"deploy it with `modelstack up {manifest.path} --target {target_name}`"
        )
    return HttpClient(f"http://127.0.0.1:{target.port}", manifest.name, binary=True)
