from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.smoke.tensors import KIND_BY_DATATYPE


class SmokeOutputs(Rule):
    id = "MS202"
    summary = "Expected outputs must name real outputs"
    description = (
        "Each key of expected_outputs must be an output of the model; argmax and top_k only "
        "make sense on numeric outputs."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.signature is None:
            return
        outputs = {o.name: o for o in ctx.signature.outputs}
        for test in ctx.manifest.smoke_tests:
            for name, expectation in test.expected_outputs.items():
                path = (*test.path, "expected_outputs", name)
                spec = outputs.get(name)
                if spec is None:
                    yield Finding(
                        path,
                        f"smoke test '{test.name}' expects output '{name}', which the model "
                        f"does not have (its outputs: {', '.join(outputs)})",
                        at_key=True,
                    )
                elif (expectation.argmax or expectation.top_k) and KIND_BY_DATATYPE.get(
                    spec.datatype
                ) not in ("int", "float"):
                    yield Finding(
                        path, f"argmax/top_k need a numeric output; '{name}' is {spec.datatype}"
                    )
