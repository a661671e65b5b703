from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class ModelPath(Rule):
    id = "MS101"
    summary = "The model file must exist inside the manifest's folder"
    description = (
        "model.path is relative to the manifest and may not leave its folder: no '..', no "
        "absolute path, no symlink pointing outside. The bundle is what gets built and shipped."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is not None and ctx.model_path is None and ctx.model_error:
            yield Finding(("model", "path"), str(ctx.model_error))
