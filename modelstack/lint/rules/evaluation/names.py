from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.evaluate.columns import DATASET_SUFFIXES, dataset_names
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.modelfile import ModelSignature, resolve_in_bundle


def _output_findings(spec: EvaluationSpec, signature: ModelSignature) -> Iterator[Finding]:
    outputs = [t.name for t in signature.outputs]
    settings = {"scores": spec.scores, "reference": spec.reference}
    if spec.task != "classification" or not spec.scores:
        settings["labels"] = spec.labels  # a classifier may have only scores, labels in the data
    for setting, name in settings.items():
        if name is not None and name not in outputs:
            yield Finding(
                ("evaluation", setting),
                f"evaluation.{setting} is '{name}', which is not a model output "
                f"(outputs: {', '.join(outputs)})",
            )


class EvaluationNames(Rule):
    id = "MS703"
    summary = "Evaluation names must match the model's inputs and outputs"
    description = (
        "evaluation.labels, scores and reference name model outputs. Each data set holds every "
        "model input under its name, the labels (or reference outputs) under the output's name, "
        "and nothing else."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.evaluation if ctx.manifest else None
        if ctx.manifest is None or spec is None or ctx.signature is None:
            return
        yield from _output_findings(spec, ctx.signature)
        inputs = [t.name for t in ctx.signature.inputs]
        wanted = [n for n in (spec.labels, spec.reference) if n]
        for entry in spec.datasets:
            if not entry.path.lower().endswith(DATASET_SUFFIXES):
                continue  # MS701 reports it
            try:
                path = resolve_in_bundle(ctx.manifest.directory, entry.path, what="data set")
                names = dataset_names(path)
            except ModelError:
                continue  # MS701 reports it
            except ValueError as exc:
                yield Finding((*entry.where, "path"), f"data set '{entry.name}': {exc}")
                continue
            missing = [n for n in [*inputs, *wanted] if n not in names]
            unknown = [n for n in names if n not in inputs and n not in wanted]
            problems = [f"no values for {', '.join(map(repr, missing))}"] if missing else []
            if unknown:
                problems.append(
                    f"{', '.join(map(repr, unknown))} is neither a model input nor the labels "
                    "or reference output"
                )
            if problems:
                yield Finding(
                    (*entry.where, "path"),
                    f"data set '{entry.name}' ({entry.path}): {'; '.join(problems)} "
                    f"(model inputs: {', '.join(inputs)}; expected values: "
                    f"{', '.join(wanted) or 'none configured'})",
                )
