from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ExternalDataError
from modelstack.lint.rule import Finding, LintContext, Rule


class ExternalData(Rule):
    id = "MS104"
    summary = "External data files must stay inside the bundle"
    description = (
        "Large ONNX models keep weights in external data files. Each must exist inside the "
        "manifest's folder; a path that leaves it would ship (or read) files from elsewhere."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.model_path is None or ctx.model_signature is not None:
            return
        if isinstance(ctx.model_error, ExternalDataError):
            yield Finding(("model", "path"), str(ctx.model_error))
