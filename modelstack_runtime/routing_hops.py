"""One hop of a routed request: to a tier over plain HTTP, or through a cloud transport.

A tier with a ``url`` in the runtime config (and no entry in ``MODELSTACK_ROUTING_TIERS``) is
reached with ``routing_forward.Forwarder`` (pooled keep-alive HTTP); a tier whose address the
environment gives, with ``routing_transports.CloudForwarder`` (``lambda.invoke`` of an alias, or
HTTPS with an ID token). Both answer with the same contract: the tier's 200 answer, TierRefused
for its 4xx when the client chose the tier, TierFailure for anything else.

Every transport is built, and the SDK each kind needs is looked for, when the service starts:
an address that is incomplete or whose SDK is not installed is a ConfigError then.

When spans are exported, each hop is a client span ``route <tier>`` under the entry's request
span, and the tier receives that span's ``traceparent``; otherwise the request's own trace
context headers go on as they came.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.routing_config import RoutingConfig
from modelstack_runtime.routing_forward import Forwarder, TierFailure, TierRefused

if TYPE_CHECKING:
    from modelstack_runtime.routing_transports import CloudForwarder
    from modelstack_runtime.tracing import TraceContext, Tracer

__all__ = ["SDK_OF_KIND", "Hops"]

SDK_OF_KIND: Final[Mapping[str, tuple[str, str]]] = {
    "aws-lambda": ("boto3", "boto3"),
    "cloud-run": ("google.auth", "google-auth and requests"),
    "cloud-run-federated": ("google.auth", "google-auth"),
}
"""Tier kind -> (the module its transport imports, the packages that provide it)."""


def _require_sdk(tier: str, kind: str) -> None:
    module, packages = SDK_OF_KIND.get(kind, ("", ""))
    if not module:
        return
    found = importlib.util.find_spec(module.split(".")[0]) is not None
    if found and "." in module:
        found = importlib.util.find_spec(module) is not None
    if not found:
        raise ConfigError(
            f"routing tier {tier!r} is a {kind} tier, which needs {packages} in the image; "
            "build the image with modelstack (it adds them) or add them to build.python_packages"
        )


def _cloud(config: RoutingConfig) -> CloudForwarder | None:
    if not config.addressed:
        return None
    from modelstack_runtime.routing_transports import CloudForwarder, transport_for

    transports = {}
    for name, tier in config.addressed.items():
        _require_sdk(name, tier.kind)
        address = {**tier.address, "timeout_ms": tier.timeout_ms}
        transports[name] = transport_for(name, address, max_reply=config.max_response_bytes)
    models = {name: tier.model_name for name, tier in config.addressed.items()}
    return CloudForwarder(transports, models)


class Hops:
    """Sends a routed request to the tier it goes to, traced when spans are exported."""

    def __init__(self, config: RoutingConfig, tracer: Tracer | None = None) -> None:
        self.http = Forwarder(config)
        self.cloud = _cloud(config)
        self.tracer = tracer

    def close(self) -> None:
        self.http.close()
        if self.cloud is not None:
            self.cloud.close()

    def infer(
        self,
        tier: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        client_errors: bool,
        trace: TraceContext | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The tier's 200 answer (body, headers); `trace` is the entry's request span."""
        cloud = self.cloud
        forwarder: Forwarder | CloudForwarder = (
            cloud if cloud is not None and tier in cloud else self.http
        )
        hop = None
        if trace is not None and self.tracer is not None:
            hop = self.tracer.hop(f"route {tier}", trace, {"modelstack.routing.tier": tier})
        if hop is None:
            return forwarder.infer(tier, body, headers, client_errors=client_errors)
        sent = {**headers, "traceparent": hop.context.header()}
        try:
            answer = forwarder.infer(tier, body, sent, client_errors=client_errors)
        except TierRefused as refused:
            hop.end(int(refused.status), str(refused))
            raise
        except TierFailure as failure:
            hop.end(None, str(failure))
            raise
        hop.end(200)
        return answer
