"""Declarative routing: confidence cascades, routes by request, sticky A/B splits.

`modelstack.routing.spec` parses the manifest's `routing:` section into typed objects; the
runtime receives its part as JSON (`modelstack.routing.spec.runtime_routing`) and decides and
forwards in `modelstack_runtime.routing`.
"""

from __future__ import annotations

from modelstack.routing.spec import (
    ESCALATE_CONDITIONS,
    ROUTE_KINDS,
    SELF,
    EscalateRule,
    RouteRule,
    RoutingSpec,
    Split,
    Tier,
    parse_routing,
)

__all__ = [
    "ESCALATE_CONDITIONS",
    "ROUTE_KINDS",
    "SELF",
    "EscalateRule",
    "RouteRule",
    "RoutingSpec",
    "Split",
    "Tier",
    "parse_routing",
]
