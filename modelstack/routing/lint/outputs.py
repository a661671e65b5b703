"""MS913: an escalate rule reads an output of the right kind from the model answering so far."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.model import Manifest, TensorSpec
from modelstack.routing.graph import load_tier
from modelstack.routing.lint.tiers import spec_of
from modelstack.routing.spec import PROBABILITY_CONDITIONS

__all__ = ["EscalateOutput"]

_FLOATS = ("FP16", "FP32", "FP64")
_NUMBERS = (*_FLOATS, "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64")


def _declared_outputs(manifest: Manifest, *, read_model: bool) -> tuple[TensorSpec, ...] | None:
    """The tier's declared outputs, else (with model checks on) its model file's."""
    if manifest.model.outputs is not None or not read_model:
        return manifest.model.outputs
    from modelstack.errors import ModelError
    from modelstack.modelfile import check_model, resolve_in_bundle

    try:
        return check_model(resolve_in_bundle(manifest.directory, manifest.model.path)).outputs
    except ModelError:
        return None


def kind_problem(condition: str, output: TensorSpec) -> str | None:
    """Why `output` cannot be read by `condition`, or None when it can."""
    if condition in PROBABILITY_CONDITIONS:
        if output.datatype not in _FLOATS:
            return f"{condition} reads class probabilities, but it is {output.datatype}"
        if len(output.shape) != 2 or output.shape[1] == 1:
            return f"{condition} reads one row of class probabilities per item ([N, classes])"
        return None
    if output.datatype not in _NUMBERS:
        return f"{condition} compares numbers, but it is {output.datatype}"
    return None


class EscalateOutput(Rule):
    id = "MS913"
    summary = "Escalate rules read an output of the right kind"
    description = (
        "escalate[].output names an output of the model answering so far (this service's for "
        "the first rule, the previous rule's tier after that): class probabilities [N, classes] "
        "for max_prob_below, margin_below and entropy_above; a number for value_above/below."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = spec_of(ctx)
        if spec is None or not spec.escalate:
            return
        signature = ctx.signature
        outputs: tuple[TensorSpec, ...] | None = signature.outputs if signature else None
        answering = "this service's model"
        for index, rule in enumerate(spec.escalate):
            if outputs is not None:
                found = next((o for o in outputs if o.name == rule.output), None)
                where = ("routing", "escalate", index, "output")
                if found is None:
                    names = ", ".join(o.name for o in outputs)
                    yield Finding(
                        where, f"{answering} has no output '{rule.output}' (outputs: {names})"
                    )
                else:
                    problem = kind_problem(rule.condition, found)
                    if problem:
                        yield Finding(where, f"output '{rule.output}': {problem}")
            tier = spec.tiers.get(rule.to)
            loaded = load_tier(tier) if tier is not None else None
            manifest = loaded.manifest if loaded is not None else None
            outputs = _declared_outputs(manifest, read_model=ctx.model_checks) if manifest else None
            answering = f"tier '{rule.to}'"
