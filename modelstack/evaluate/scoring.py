"""Running a model over data sets through an `InferenceClient`, and scoring its outputs."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from modelstack.errors import DatasetError, EvaluationError
from modelstack.evaluate.catalog import METRICS, default_metrics
from modelstack.evaluate.datasets import Dataset
from modelstack.evaluate.metrics import Predictions, compute
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.modelfile import ModelSignature
from modelstack.smoke.clients import InferenceClient, InferenceFailed

__all__ = ["ModelScores", "measure_latency", "metric_names", "run_outputs", "score"]

WARMUP_REQUESTS = 3


@dataclass(frozen=True)
class ModelScores:
    """One model's numbers: metrics over all data sets (and per data set), latency, size."""

    model: str
    size_mb: float
    p50_ms: float
    p99_ms: float
    metrics: dict[str, float]
    per_dataset: dict[str, dict[str, float]] = field(default_factory=dict)
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (what a deploy records for the release it promotes)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelScores:
        """Scores read back from `to_dict`'s record, such as the stable release's, to serve
        as the baseline of `evaluate_manifest(..., baseline=...)`."""
        return cls(
            model=str(data["model"]),
            size_mb=float(data["size_mb"]),
            p50_ms=float(data["p50_ms"]),
            p99_ms=float(data["p99_ms"]),
            metrics={str(k): float(v) for k, v in data["metrics"].items()},
            per_dataset={
                str(name): {str(k): float(v) for k, v in values.items()}
                for name, values in data.get("per_dataset", {}).items()
            },
            rows=int(data.get("rows", 0)),
        )

    def values(self) -> dict[str, float]:
        """Everything a gate may name."""
        return {**self.metrics, "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
                "size_mb": self.size_mb}  # fmt: skip


def metric_names(spec: EvaluationSpec) -> tuple[str, ...]:
    """The metrics to compute: the manifest's list, else the task's defaults."""
    if spec.metrics is not None:
        return spec.metrics
    return default_metrics(spec.task, bool(spec.labels), bool(spec.scores), bool(spec.reference))


def _check_settings(spec: EvaluationSpec, names: Sequence[str], signature: ModelSignature) -> None:
    outputs = {t.name for t in signature.outputs}
    for name in names:
        metric = METRICS[name]
        if spec.task not in metric.tasks:
            raise EvaluationError(f"metric '{name}' does not fit task '{spec.task}'")
        for setting in metric.needs:
            if getattr(spec, setting) is None:
                raise EvaluationError(f"metric '{name}' needs evaluation.{setting}")
    named = {"scores": spec.scores, "reference": spec.reference}
    if spec.task != "classification" or not spec.scores:
        named["labels"] = spec.labels
    for setting, output in named.items():
        if output is not None and output not in outputs:
            raise EvaluationError(
                f"evaluation.{setting} names '{output}', which is not a model output "
                f"(outputs: {', '.join(sorted(outputs))})"
            )


def run_outputs(
    client: InferenceClient, dataset: Dataset, batch_size: int
) -> dict[str, np.ndarray]:
    """Every output of the model on every row of `dataset`, in batches."""
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, dataset.rows, batch_size):
        batch = {n: a[start : start + batch_size] for n, a in dataset.inputs.items()}
        try:
            outputs = client.infer(batch)
        except InferenceFailed as exc:
            raise DatasetError(
                f"data set '{dataset.name}': rows {start}-{start + len(next(iter(batch.values())))}"
                f" were refused by {client.describe()}: {exc}"
            ) from None
        for name, array in outputs.items():
            parts.setdefault(name, []).append(array)
    return {name: np.concatenate(arrays) for name, arrays in parts.items()}


def _labels(truth: np.ndarray, dataset: str, classes: int | None) -> np.ndarray:
    flat = truth.reshape(len(truth), -1)
    if truth.dtype == object:
        if flat.shape[1] != 1 or not all(isinstance(v, str) for v in flat[:, 0]):
            raise DatasetError(
                f"data set '{dataset}': labels must be one class index or class name per row"
            )
        return flat[:, 0].astype(str)
    if flat.shape[1] != 1 or (truth.dtype.kind == "f" and not np.all(np.mod(truth, 1) == 0)):
        raise DatasetError(f"data set '{dataset}': labels must be one class index per row")
    labels = flat[:, 0].astype(np.int64)
    bad = (labels < 0) | (labels >= classes) if classes else labels < 0
    if np.any(bad):
        row = int(np.argmax(bad))
        allowed = f"0..{classes - 1}" if classes else "0 or more"
        raise DatasetError(
            f"data set '{dataset}': label {labels[row]} in row {row} is out of range "
            f"(class indexes {allowed})"
        )
    return labels


def _predictions(spec: EvaluationSpec, dataset: Dataset, out: dict[str, np.ndarray]) -> Predictions:
    scores = out.get(spec.scores) if spec.scores else None
    truth = dataset.expected.get(spec.labels) if spec.labels else None
    predicted = out.get(spec.labels) if spec.labels else None
    ranked = None
    if spec.task == "classification":
        classes = int(scores.shape[-1]) if scores is not None else None
        truth = _labels(truth, dataset.name, classes) if truth is not None else None
        if truth is not None and truth.dtype.kind == "U":
            ranked = _ranked_names(spec, dataset.name, predicted)
            predicted = ranked[:, 0]
        elif scores is not None and (predicted is None or spec.labels not in out):
            predicted = np.argmax(scores, axis=-1)
        predicted = predicted.reshape(-1) if predicted is not None else None
    reference = dataset.expected.get(spec.reference) if spec.reference else None
    output = out.get(spec.reference) if spec.reference else None
    if output is not None and reference is not None and reference.size != output.size:
        raise DatasetError(
            f"data set '{dataset.name}': reference '{spec.reference}' has shape "
            f"{list(reference.shape)}, the model's output {list(output.shape)}"
        )
    return Predictions(predicted, scores, truth, output, reference, spec.top_k, ranked)


def _ranked_names(spec: EvaluationSpec, dataset: str, names: np.ndarray | None) -> np.ndarray:
    """The class names the model answers, best first, one row per input ([N, k])."""
    if names is None or names.dtype != object:
        raise DatasetError(
            f"data set '{dataset}': the labels are class names, so evaluation.labels must name "
            f"an output that answers names (BYTES), such as the 'labels' of "
            f"model.postprocess; '{spec.labels}' is not one"
        )
    text = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in names.ravel()]
    return np.asarray(text, dtype=str).reshape(len(names), -1)


def _concat(items: list[np.ndarray | None]) -> np.ndarray | None:
    present = [i for i in items if i is not None]
    return np.concatenate(present) if present and len(present) == len(items) else None


def score(
    spec: EvaluationSpec,
    signature: ModelSignature,
    outputs: Sequence[dict[str, np.ndarray]],
    datasets: Sequence[Dataset],
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The metrics over all data sets together, and per data set."""
    names = metric_names(spec)
    _check_settings(spec, names, signature)
    preds = [_predictions(spec, d, o) for d, o in zip(datasets, outputs, strict=True)]
    per = {d.name: compute(names, p) for d, p in zip(datasets, preds, strict=True)}
    merged = Predictions(
        predicted=_concat([p.predicted for p in preds]),
        scores=_concat([p.scores for p in preds]),
        truth=_concat([p.truth for p in preds]),
        output=_concat([p.output for p in preds]),
        reference=_concat([p.reference for p in preds]),
        top_k=spec.top_k,
        ranked=_concat([p.ranked for p in preds]),
    )
    return compute(names, merged), per


def measure_latency(
    clients: Sequence[InferenceClient], dataset: Dataset, runs: int
) -> list[tuple[float, float]]:
    """(p50, p99) in ms of one-row requests for each client, interleaved so that a busy moment
    on the machine slows them all alike."""
    timings: list[list[float]] = [[] for _ in clients]
    for i in range(WARMUP_REQUESTS + runs):
        row = {n: a[i % dataset.rows : i % dataset.rows + 1] for n, a in dataset.inputs.items()}
        for client, times in zip(clients, timings, strict=True):
            start = time.perf_counter()
            try:
                client.infer(row)
            except InferenceFailed as exc:
                raise DatasetError(
                    f"{client.describe()} refused a one-row request: {exc}"
                ) from None
            if i >= WARMUP_REQUESTS:
                times.append((time.perf_counter() - start) * 1000)
    return [(float(np.percentile(t, 50)), float(np.percentile(t, 99))) for t in timings]
