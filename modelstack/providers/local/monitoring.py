"""`modelstack monitor` on the local target: every serving container's `/metrics`, merged.

The containers of each revision with traffic are read directly (the router would pick one of
them), each answer bounded by ``MODELSTACK_MONITOR_MAX_SCRAPE_BYTES``. Counters run from each
container's start, so `--since` does not narrow them.
"""

from __future__ import annotations

import http.client
import os
from typing import TYPE_CHECKING, Final

from modelstack.errors import InfrastructureError, UsageError

if TYPE_CHECKING:
    from modelstack.manifest.model import Manifest
    from modelstack.monitor.readings import Readings
    from modelstack.providers.local.target import LocalTarget

__all__ = ["MAX_SCRAPE_ENV", "LocalMetrics"]

MAX_SCRAPE_ENV: Final = "MODELSTACK_MONITOR_MAX_SCRAPE_BYTES"
DEFAULT_MAX_SCRAPE: Final = 4 * 1024 * 1024
_TIMEOUT_S: Final = 10.0


def _max_bytes() -> int:
    raw = os.environ.get(MAX_SCRAPE_ENV, str(DEFAULT_MAX_SCRAPE))
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{MAX_SCRAPE_ENV}={raw!r} is not a number of bytes") from None
    if value <= 0:
        raise UsageError(f"{MAX_SCRAPE_ENV} must be positive, got {value}")
    return value


def scrape(backend: str, limit: int) -> str:
    """GET /metrics of one container (``host:port`` on 127.0.0.1), at most ``limit`` bytes."""
    host, _, port = backend.rpartition(":")
    if host != "127.0.0.1":
        raise InfrastructureError(f"refusing to read metrics from {backend}: not 127.0.0.1")
    connection = http.client.HTTPConnection(host, int(port), timeout=_TIMEOUT_S)
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        body = response.read(limit + 1)
    except OSError as exc:
        raise InfrastructureError(f"cannot read http://{backend}/metrics: {exc}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise InfrastructureError(f"http://{backend}/metrics answered {response.status}")
    if len(body) > limit:
        raise InfrastructureError(
            f"http://{backend}/metrics sent more than {limit} bytes; raise {MAX_SCRAPE_ENV}"
        )
    return body.decode("utf-8", errors="replace")


class LocalMetrics:
    """Reads the local target's containers."""

    def __init__(self, target: LocalTarget) -> None:
        self.target = target

    def read(self, manifest: Manifest, since_s: float) -> Readings:
        from modelstack.deploy.state import STATE_DIR
        from modelstack.monitor.readings import merge, readings_from_text
        from modelstack.providers.local.routes import read_routes

        if self.target.flavour != "http":
            raise UsageError(
                f"target '{self.target.name}' runs the Lambda flavour, whose metrics are EMF "
                "lines in the container log; monitor reads the HTTP flavour's /metrics"
            )
        routes_path = manifest.directory / STATE_DIR / "local" / self.target.name / "routes.json"
        routes = read_routes(routes_path)
        backends = [b for r in (routes.revisions if routes else ()) if r.weight for b in r.backends]
        if not backends:
            raise UsageError(
                f"target '{self.target.name}' serves nothing yet; run `modelstack up "
                f"{manifest.path} --target {self.target.name}` first"
            )
        limit = _max_bytes()
        parts = [readings_from_text(scrape(b, limit), f"http://{b}/metrics") for b in backends]
        return merge(parts, f"{len(backends)} local container(s)")
