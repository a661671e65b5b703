"""Lint rules for the `routing:` section (ids MS910-MS929)."""

from __future__ import annotations

from modelstack.lint.rule import Rule
from modelstack.routing.lint.expect_model import ExpectModel
from modelstack.routing.lint.outputs import EscalateOutput
from modelstack.routing.lint.tiers import RoutingCycle, RoutingSpecValid, TierManifest, TierTarget

__all__ = ["ROUTING_RULES"]

ROUTING_RULES: tuple[type[Rule], ...] = (
    RoutingSpecValid,
    TierManifest,
    TierTarget,
    EscalateOutput,
    RoutingCycle,
    ExpectModel,
)
