from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import sha256_file


class ModelSha256(Rule):
    id = "MS102"
    summary = "The model's sha256 must match model.sha256"
    description = (
        "The manifest pins the model by content. A mismatch means the file changed without the "
        "manifest (or the other way round); update model.sha256 deliberately."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.model_path is None:
            return
        actual = sha256_file(ctx.model_path)
        if actual != ctx.manifest.model.sha256:
            yield Finding(
                ("model", "sha256"),
                f"sha256 mismatch for '{ctx.manifest.model.path}': the manifest pins "
                f"{ctx.manifest.model.sha256}, the file is {actual}. If the new model is "
                "intended, set model.sha256 to the file's digest.",
            )
