"""Lint rules for the `monitoring:` section (ids MS960-MS979). Imports nothing heavy."""

from __future__ import annotations

from collections.abc import Iterator

from modelstack.errors import ModelError
from modelstack.evaluate.columns import DATASET_SUFFIXES
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.modelfile import resolve_in_bundle
from modelstack.monitor.spec import monitoring_spec

__all__ = ["MONITORING_RULES"]


class MonitoringReference(Rule):
    id = "MS960"
    summary = "Drift needs reference data inside the bundle"
    description = (
        "monitoring.reference.path is a .npz, .csv or .jsonl file beside the manifest (inside "
        "its folder) with every model input by name; without it the evaluation data sets are "
        "the reference, so one of the two must be there."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        manifest = ctx.manifest
        spec = monitoring_spec(manifest) if manifest else None
        if manifest is None or spec is None:
            return
        if spec.reference is None:
            if manifest.evaluation is None:
                yield Finding(
                    ("monitoring",),
                    "monitoring has no reference data to measure drift against; set "
                    "monitoring.reference.path or add evaluation.datasets",
                )
            return
        where = ("monitoring", "reference", "path")
        if not spec.reference.path.lower().endswith(DATASET_SUFFIXES):
            yield Finding(
                where,
                f"'{spec.reference.path}' is not a data set type; use one of "
                f"{', '.join(DATASET_SUFFIXES)}",
            )
            return
        try:
            resolve_in_bundle(manifest.directory, spec.reference.path, what="reference data")
        except ModelError as exc:
            yield Finding(where, str(exc))


class MonitoringWindow(Rule):
    id = "MS961"
    summary = "A drift window is measured in requests or in seconds, not both"
    description = (
        "monitoring.window.requests and monitoring.window.seconds each give the window's "
        "length; with both set, seconds is used. Each of the window's slices holds at least "
        "one request, so slices may not exceed requests."
    )
    severity = "warning"

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        manifest = ctx.manifest
        if manifest is None or monitoring_spec(manifest) is None:
            return
        window = manifest.source.data["monitoring"].get("window", {})
        if "requests" in window and "seconds" in window:
            yield Finding(
                ("monitoring", "window", "requests"),
                "monitoring.window sets both requests and seconds; seconds is used, remove one",
            )
        elif window.get("slices", 10) > window.get("requests", 1000) and "seconds" not in window:
            yield Finding(
                ("monitoring", "window", "slices"),
                f"monitoring.window.slices ({window['slices']}) exceeds requests "
                f"({window.get('requests', 1000)}); lower slices or raise requests",
            )


class MonitoringWatch(Rule):
    id = "MS962"
    summary = "Watched inputs must be model inputs"
    description = (
        "monitoring.watch.inputs names inputs of the model (its declared signature, or the "
        "ONNX file's); drift is measured on each column of their rows."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        manifest = ctx.manifest
        spec = monitoring_spec(manifest) if manifest else None
        if manifest is None or spec is None or spec.watch.inputs is None:
            return
        declared = manifest.model.inputs
        if declared is not None:
            names = [t.name for t in declared]
        elif ctx.model_signature is not None:
            names = [t.name for t in ctx.model_signature.inputs]
        else:
            return
        for index, name in enumerate(spec.watch.inputs):
            if name not in names:
                yield Finding(
                    ("monitoring", "watch", "inputs", index),
                    f"'{name}' is not a model input; the model's inputs: {', '.join(names)}",
                )


class MonitoringThresholds(Rule):
    id = "MS963"
    summary = "The PSI warning threshold must be below the alarm threshold"
    description = (
        "monitoring.thresholds.psi_warn (default 0.1) marks a feature as drifting and "
        "psi_alarm (default 0.25) as shifted; a warning at or above the alarm never shows."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        manifest = ctx.manifest
        spec = monitoring_spec(manifest) if manifest else None
        if spec is None:
            return
        if spec.thresholds.psi_warn >= spec.thresholds.psi_alarm:
            yield Finding(
                ("monitoring", "thresholds", "psi_warn"),
                f"psi_warn ({spec.thresholds.psi_warn:g}) must be below psi_alarm "
                f"({spec.thresholds.psi_alarm:g})",
            )


MONITORING_RULES: tuple[type[Rule], ...] = (
    MonitoringReference,
    MonitoringWindow,
    MonitoringWatch,
    MonitoringThresholds,
)
