from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.model import TensorSpec
from modelstack.manifest.source import PathKey
from modelstack.smoke.tensors import shape_matches


class DeclaredSignature(Rule):
    id = "MS105"
    summary = "The declared signature must agree with the model"
    description = (
        "Each input and output in model.signature must exist in the model with the same "
        "datatype and a compatible shape (-1 matches a dynamic dimension), and the model must "
        "not have inputs or outputs the signature leaves out."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        if ctx.manifest is None or ctx.model_signature is None:
            return
        model = ctx.manifest.model
        actual = ctx.model_signature
        if model.inputs is not None:
            yield from _compare("inputs", model.inputs, actual.inputs)
        if model.outputs is not None:
            yield from _compare("outputs", model.outputs, actual.outputs)


def _compare(
    kind: str, declared: tuple[TensorSpec, ...], actual: tuple[TensorSpec, ...]
) -> Iterator[Finding]:
    by_name = {t.name: t for t in actual}
    for index, spec in enumerate(declared):
        path: PathKey = ("model", "signature", kind, index)
        found = by_name.get(spec.name)
        if found is None:
            names = ", ".join(by_name) or "none"
            yield Finding((*path, "name"), f"the model has no {kind[:-1]} '{spec.name}' ({names})")
            continue
        if found.datatype != spec.datatype:
            yield Finding(
                (*path, "datatype"),
                f"'{spec.name}' is {found.datatype} in the model, declared {spec.datatype}",
            )
        if not shape_matches(spec.shape, _concrete(found.shape, spec.shape)):
            yield Finding(
                (*path, "shape"),
                f"'{spec.name}' has shape {list(found.shape)} in the model, declared "
                f"{list(spec.shape)}",
            )
    missing = [name for name in by_name if name not in {s.name for s in declared}]
    if missing:
        yield Finding(
            ("model", "signature", kind),
            f"the model also has {kind} {', '.join(missing)}, which the signature leaves out",
        )


def _concrete(actual: tuple[int, ...], declared: tuple[int, ...]) -> tuple[int, ...]:
    """The model's shape with its dynamic dims filled from the declaration, for comparison."""
    if len(actual) != len(declared):
        return actual
    return tuple(d if a == -1 else a for a, d in zip(actual, declared, strict=True))
