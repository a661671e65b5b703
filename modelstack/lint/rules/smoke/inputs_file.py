from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import resolve_in_bundle
from modelstack.smoke.inputs_file import npz_headers, parse_json_inputs, read_inputs_file


class SmokeInputsFile(Rule):
    id = "MS203"
    summary = "A smoke test's inputs_file must exist inside the bundle, within bounds"
    description = (
        "inputs_file is relative to the manifest and may not leave its folder; it must be a "
        "regular .npz or .json file within MODELSTACK_MAX_INPUTS_FILE_BYTES. A .npz may hold "
        "no object arrays and at most MODELSTACK_MAX_SMOKE_INPUT_BYTES once decompressed "
        "(read from the array headers; no data is loaded); a .json file at most "
        "MODELSTACK_MAX_SMOKE_INPUT_VALUES values."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None:
            return
        for test in ctx.manifest.smoke_tests:
            if test.inputs_file is None:
                continue
            where = (*test.path, "inputs_file")
            try:
                path = resolve_in_bundle(ctx.manifest.directory, test.inputs_file, what="inputs")
                raw = read_inputs_file(path)
                if path.suffix == ".npz":
                    npz_headers(raw)
                else:
                    parse_json_inputs(raw)
            except ModelError as exc:
                yield Finding(where, str(exc))
            except ValueError as exc:
                yield Finding(where, f"{test.inputs_file}: {exc}")
