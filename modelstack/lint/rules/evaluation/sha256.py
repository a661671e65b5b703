from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import resolve_in_bundle, sha256_file


class EvaluationSha256(Rule):
    id = "MS702"
    summary = "Evaluation files must match their sha256"
    description = (
        "Data sets (and the baseline model) are pinned by content like the model. A mismatch "
        "means the file changed without the manifest; update its sha256 deliberately."
    )
    needs_model = True

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.evaluation if ctx.manifest else None
        if ctx.manifest is None or spec is None:
            return
        pinned = [((*d.where, "sha256"), d.path, d.sha256) for d in spec.datasets]
        if spec.baseline is not None:
            pinned.append((("evaluation", "baseline", "sha256"), spec.baseline.path,
                           spec.baseline.sha256))  # fmt: skip
        for where, relative, sha256 in pinned:
            try:
                path = resolve_in_bundle(ctx.manifest.directory, relative, what="evaluation")
            except ModelError:
                continue  # MS701 reports it
            actual = sha256_file(path)
            if actual != sha256:
                yield Finding(
                    where,
                    f"sha256 mismatch for '{relative}': the manifest pins {sha256}, the file is "
                    f"{actual}. If the new file is intended, set this sha256 to its digest.",
                )
