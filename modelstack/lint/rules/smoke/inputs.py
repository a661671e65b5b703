from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.model import SmokeTest, TensorSpec
from modelstack.smoke.tensors import nested_shape, shape_matches, value_kind_error


class SmokeInputs(Rule):
    id = "MS201"
    summary = "Smoke-test inputs must match the model's signature"
    description = (
        "Every model input must be given, no unknown input may be, and each must have the "
        "input's datatype and a shape that fits its signature (-1 matches any size). The "
        "signature is the model's own, or model.signature when model checks are off."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.signature is None:
            return
        for test in ctx.manifest.smoke_tests:
            if test.inputs is not None:
                yield from _check_test(test, ctx.signature.inputs)


def _check_test(test: SmokeTest, specs: tuple[TensorSpec, ...]) -> Iterator[Finding]:
    assert test.inputs is not None
    base = (*test.path, "inputs")
    known = {s.name: s for s in specs}
    for name in test.inputs:
        if name not in known:
            yield Finding(
                (*base, name),
                f"smoke test '{test.name}' gives input '{name}', which the model does not have "
                f"(its inputs: {', '.join(known)})",
                at_key=True,
            )
    for spec in specs:
        given = test.inputs.get(spec.name)
        if given is None:
            yield Finding(base, f"smoke test '{test.name}' is missing input '{spec.name}'")
            continue
        path = (*base, spec.name)
        if given.file is not None:  # sent whole as one BYTES element
            if spec.datatype != "BYTES":
                yield Finding(
                    (*path, "file"),
                    f"input '{spec.name}': a file is sent as BYTES, the input is {spec.datatype}",
                )
            continue
        datatype = given.datatype or spec.datatype
        if datatype != spec.datatype:
            yield Finding(
                (*path, "datatype"),
                f"input '{spec.name}': expected datatype {spec.datatype}, got {datatype}",
            )
            continue
        problem = value_kind_error(given.data, datatype)
        if problem:
            yield Finding((*path, "data"), f"input '{spec.name}': {problem}")
            continue
        yield from _check_shape(test, spec, given.data, given.shape, path)


def _check_shape(
    test: SmokeTest,
    spec: TensorSpec,
    data: object,
    declared: tuple[int, ...] | None,
    path: tuple[str | int, ...],
) -> Iterator[Finding]:
    try:
        shape = nested_shape(data)
    except ValueError as exc:
        yield Finding((*path, "data"), f"input '{spec.name}': {exc}")
        return
    if declared is not None:
        count, given = 1, 1
        for dim in declared:
            count *= dim
        for dim in shape:
            given *= dim
        if count != given:
            yield Finding(
                (*path, "shape"),
                f"input '{spec.name}': {given} values cannot fill shape {list(declared)}",
            )
            return
        shape = declared
    if not shape_matches(spec.shape, shape):
        yield Finding(
            (*path, "data"),
            f"input '{spec.name}' of smoke test '{test.name}': expected shape "
            f"{list(spec.shape)}, got {list(shape)}",
        )
