"""Rules for `model.preprocess` and `model.postprocess` (MS110-MS129)."""

from __future__ import annotations

from modelstack.lint.rule import LintContext
from modelstack.modelfile import ModelSignature

__all__ = ["underlying_signature"]


def underlying_signature(ctx: LintContext) -> ModelSignature | None:
    """The model's own signature (before the steps), else the declared one."""
    if ctx.model_signature is not None:
        return ctx.model_signature
    model = ctx.manifest.model if ctx.manifest else None
    if model and model.inputs is not None and model.outputs is not None:
        return ModelSignature(model.inputs, model.outputs)
    return None
