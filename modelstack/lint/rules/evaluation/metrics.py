from __future__ import annotations

from collections.abc import Iterator

from modelstack.evaluate.catalog import MEASUREMENTS, METRICS, default_metrics
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.manifest.evaluation import EvaluationSpec


def computed(spec: EvaluationSpec) -> tuple[str, ...]:
    if spec.metrics is not None:
        return spec.metrics
    return default_metrics(spec.task, bool(spec.labels), bool(spec.scores), bool(spec.reference))


class GateNames(Rule):
    id = "MS704"
    summary = "Gates must name computed metrics or measurements"
    description = (
        "Each key of evaluation.gates is a metric the evaluation computes (evaluation.metrics, "
        "or the task's defaults) or one of p50_ms, p99_ms, size_mb. A gate on anything else "
        "could never be checked."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.evaluation if ctx.manifest else None
        if spec is None:
            return
        known = (*computed(spec), *MEASUREMENTS)
        for name in spec.gates:
            if name in known:
                continue
            hint = (
                "add it to evaluation.metrics" if name in METRICS
                else f"known metrics: {', '.join(METRICS)}"
            )  # fmt: skip
            yield Finding(
                ("evaluation", "gates", name),
                f"gate '{name}' names no computed metric or measurement "
                f"(computed: {', '.join(known)}); {hint}",
                at_key=True,
            )


class MetricFitsTask(Rule):
    id = "MS705"
    summary = "Metrics must fit the task and have what they need"
    description = (
        "Classification metrics (accuracy, top_k_accuracy, macro_f1, log_loss) need task "
        "classification and evaluation.labels (top_k_accuracy and log_loss also scores); "
        "regression metrics (mae, rmse, r2) need task regression and labels; max_abs_diff and "
        "argmax_agreement need evaluation.reference."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        spec = ctx.manifest.evaluation if ctx.manifest else None
        if spec is None:
            return
        if spec.metrics is None and not computed(spec):
            yield Finding(
                ("evaluation", "task"),
                f"task '{spec.task}' computes nothing without evaluation.labels or reference",
            )
        for i, name in enumerate(spec.metrics or ()):
            metric = METRICS[name]
            if spec.task not in metric.tasks:
                yield Finding(
                    ("evaluation", "metrics", i),
                    f"metric '{name}' does not fit task '{spec.task}' (it fits "
                    f"{', '.join(metric.tasks)})",
                )
            for setting in metric.needs:
                if getattr(spec, setting) is None:
                    yield Finding(
                        ("evaluation", "metrics", i),
                        f"metric '{name}' needs evaluation.{setting}",
                    )
