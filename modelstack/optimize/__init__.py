"""Optimisation behind the evaluation gates: int8 quantisation and FP16 (`modelstack optimize`)."""

from __future__ import annotations

from modelstack.optimize.edit import edit_model_fields
from modelstack.optimize.methods import METHODS
from modelstack.optimize.run import OptimizeOutcome, candidate_name, optimize_manifest

__all__ = ["METHODS", "OptimizeOutcome", "candidate_name", "edit_model_fields", "optimize_manifest"]
