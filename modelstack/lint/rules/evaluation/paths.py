from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.evaluate.columns import DATASET_SUFFIXES
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import resolve_in_bundle


class EvaluationPaths(Rule):
    id = "MS701"
    summary = "Evaluation data sets must exist inside the bundle"
    description = (
        "Each evaluation.datasets[].path (and evaluation.baseline.path) is relative to the "
        "manifest and may not leave its folder; a data set must be a .npz, .csv or .jsonl file."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.evaluation if ctx.manifest else None
        if ctx.manifest is None or spec is None:
            return
        for entry in spec.datasets:
            where = (*entry.where, "path")
            if not entry.path.lower().endswith(DATASET_SUFFIXES):
                yield Finding(
                    where,
                    f"data set '{entry.name}': '{entry.path}' is not a data set type; use one "
                    f"of {', '.join(DATASET_SUFFIXES)}",
                )
                continue
            try:
                resolve_in_bundle(ctx.manifest.directory, entry.path, what="data set")
            except ModelError as exc:
                yield Finding(where, f"data set '{entry.name}': {exc}")
        if spec.baseline is not None:
            try:
                resolve_in_bundle(ctx.manifest.directory, spec.baseline.path, what="baseline")
            except ModelError as exc:
                yield Finding(("evaluation", "baseline", "path"), str(exc))
