"""The evaluation metrics, computed with numpy on the outputs the data plane returned.

Which metrics exist, what each needs and which way is better is in `catalog` (no numpy there,
so that lint can read it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from modelstack.errors import EvaluationError

__all__ = ["FUNCTIONS", "Predictions", "compute"]


@dataclass(frozen=True)
class Predictions:
    """What one model produced on one data set, beside the values expected of it."""

    predicted: np.ndarray | None
    """Predicted class indexes (classification) or values (regression)."""
    scores: np.ndarray | None
    """Per-class probabilities (classification with `scores`)."""
    truth: np.ndarray | None
    """The data set's labels or regression targets."""
    output: np.ndarray | None
    """The `reference` output of the model."""
    reference: np.ndarray | None
    """The reference outputs stored in the data set."""
    top_k: int = 5
    ranked: np.ndarray | None = None
    """The class names answered, best first ([N, k]), when the labels are class names."""


def _need(value: np.ndarray | None) -> np.ndarray:
    assert value is not None  # guaranteed by Metric.needs, checked before computing
    return value


def _accuracy(p: Predictions) -> float:
    return float(np.mean(_need(p.predicted) == _need(p.truth)))


def _top_k(p: Predictions) -> float:
    if p.ranked is not None:  # names answered best first: is the true one among the first k?
        hits = p.ranked[:, : p.top_k] == _need(p.truth)[:, None]
        return float(np.mean(np.any(hits, axis=-1)))
    scores, truth = _need(p.scores), _need(p.truth)
    k = min(p.top_k, scores.shape[-1])
    top = np.argpartition(-scores, k - 1, axis=-1)[:, :k]
    return float(np.mean(np.any(top == truth[:, None], axis=-1)))


def _macro_f1(p: Predictions) -> float:
    predicted, truth = _need(p.predicted), _need(p.truth)
    scores = []
    for cls in np.union1d(predicted, truth):
        tp = np.sum((predicted == cls) & (truth == cls))
        fp = np.sum((predicted == cls) & (truth != cls))
        fn = np.sum((predicted != cls) & (truth == cls))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _log_loss(p: Predictions) -> float:
    if p.ranked is not None:
        raise EvaluationError(
            "log_loss needs a probability for every class, and a model answering class names "
            "answers only its top k; leave log_loss out of evaluation.metrics"
        )
    scores, truth = _need(p.scores).astype(np.float64), _need(p.truth)
    picked = scores[np.arange(len(truth)), truth]
    return float(-np.mean(np.log(np.clip(picked, 1e-15, 1.0))))


def _errors(p: Predictions) -> np.ndarray:
    predicted = _need(p.predicted).astype(np.float64).reshape(len(_need(p.truth)), -1)
    return predicted - _need(p.truth).astype(np.float64).reshape(predicted.shape)


def _mae(p: Predictions) -> float:
    return float(np.mean(np.abs(_errors(p))))


def _rmse(p: Predictions) -> float:
    return float(np.sqrt(np.mean(_errors(p) ** 2)))


def _r2(p: Predictions) -> float:
    truth = _need(p.truth).astype(np.float64).reshape(len(_need(p.truth)), -1)
    total = np.sum((truth - truth.mean(axis=0)) ** 2)
    residual = np.sum(_errors(p) ** 2)
    return float(1.0 - residual / total) if total > 0 else float(residual == 0)


def _max_abs_diff(p: Predictions) -> float:
    output = _need(p.output).astype(np.float64)
    return float(
        np.max(np.abs(output - _need(p.reference).astype(np.float64).reshape(output.shape)))
    )


def _argmax_agreement(p: Predictions) -> float:
    output, reference = _need(p.output), _need(p.reference)
    return float(np.mean(np.argmax(output, axis=-1) == np.argmax(reference, axis=-1)))


FUNCTIONS: dict[str, Callable[[Predictions], float]] = {
    "accuracy": _accuracy,
    "top_k_accuracy": _top_k,
    "macro_f1": _macro_f1,
    "log_loss": _log_loss,
    "mae": _mae,
    "rmse": _rmse,
    "r2": _r2,
    "max_abs_diff": _max_abs_diff,
    "argmax_agreement": _argmax_agreement,
}
"""How each metric of `catalog.METRICS` is computed (a test keeps the two in step)."""


def compute(names: tuple[str, ...], predictions: Predictions) -> dict[str, float]:
    """Each named metric's value on `predictions`."""
    return {name: FUNCTIONS[name](predictions) for name in names}
