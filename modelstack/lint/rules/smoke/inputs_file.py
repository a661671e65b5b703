from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import resolve_in_bundle


class SmokeInputsFile(Rule):
    id = "MS203"
    summary = "A smoke test's inputs_file must exist inside the bundle"
    description = (
        "inputs_file is relative to the manifest and may not leave its folder; it must be a "
        ".npz or .json file."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        for test in ctx.manifest.smoke_tests:
            if test.inputs_file is None:
                continue
            try:
                resolve_in_bundle(ctx.manifest.directory, test.inputs_file, what="inputs")
            except ModelError as exc:
                yield Finding((*test.path, "inputs_file"), str(exc))
