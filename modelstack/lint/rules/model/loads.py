from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ExternalDataError
from modelstack.lint.rule import Finding, LintContext, Rule


class ModelLoads(Rule):
    id = "MS103"
    summary = "The model must load and pass onnx.checker"
    description = "The file must be a complete ONNX model that onnx.checker accepts."
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.model_path is None:
            return
        error = ctx.model_error if ctx.model_signature is None else None
        if error is not None and not isinstance(error, ExternalDataError):
            yield Finding(("model", "path"), str(error))
