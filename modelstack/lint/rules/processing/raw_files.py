from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import SmokeTestError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.processing.raw_inputs import read_file_input


class RawInputFile(Rule):
    id = "MS112"
    summary = "A smoke test's input `file` must exist inside the bundle, within bounds"
    description = (
        "An input given as `file:` (an encoded image for a model with model.preprocess.image) "
        "is relative to the manifest and may not leave its folder; it must be a regular file "
        "within MODELSTACK_MAX_INPUTS_FILE_BYTES."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        for test in ctx.manifest.smoke_tests:
            for name, given in (test.inputs or {}).items():
                if given.file is None:
                    continue
                try:
                    read_file_input(ctx.manifest.directory, given.file, f"input '{name}'")
                except SmokeTestError as exc:
                    yield Finding((*test.path, "inputs", name, "file"), str(exc))
