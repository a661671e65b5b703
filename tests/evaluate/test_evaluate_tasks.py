"""Regression metrics and agreement with reference outputs, end to end from CSV and JSON-lines
data sets, against scikit-learn's implementations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from evalbundle import BIAS, WEIGHTS, inputs_and_labels, sha, write_bundle

from modelstack.evaluate import evaluate_manifest, format_evaluation
from modelstack.manifest import load_manifest


def probabilities(x: np.ndarray) -> np.ndarray:
    logits = x.astype(np.float64) @ WEIGHTS + BIAS
    return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def retask(manifest: Path, section: str, data: Path) -> None:
    """Replace the evaluation section's task settings and data set."""
    text = manifest.read_text()
    head, tail = text.split("  task: classification\n", 1)
    tail = tail.split("  top_k: 2\n", 1)[1]
    tail = tail.replace("path: eval.npz", f"path: {data.name}")
    tail = tail.replace(tail.split('sha256: "')[1].split('"')[0], sha(data))
    manifest.write_text(head + section + tail)


def test_regression_metrics_from_json_lines(tmp_path: Path) -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    x, _ = inputs_and_labels()
    targets = probabilities(x) + np.random.default_rng(3).normal(scale=0.05, size=(10, 3))
    data = tmp_path / "rows.jsonl"
    tmp_path.mkdir(exist_ok=True)
    data.write_text(
        "\n".join(
            json.dumps({"x": row.tolist(), "probabilities": t.tolist()})
            for row, t in zip(x.astype(np.float64), targets, strict=True)
        )
    )
    manifest = write_bundle(tmp_path, gates="r2: {min: 0.5}")
    retask(manifest, "  task: regression\n  labels: probabilities\n", data)
    result = evaluate_manifest(load_manifest(manifest))
    predicted = probabilities(x)
    metrics = result.candidate.metrics
    assert set(metrics) == {"mae", "rmse", "r2"}
    assert metrics["mae"] == pytest.approx(mean_absolute_error(targets, predicted), rel=1e-5)
    rmse = np.sqrt(mean_squared_error(targets, predicted))
    assert metrics["rmse"] == pytest.approx(rmse, rel=1e-5)
    r2 = r2_score(targets, predicted, multioutput="variance_weighted")
    assert metrics["r2"] == pytest.approx(r2, rel=1e-5)
    assert result.passed


def test_agreement_with_reference_outputs_from_csv(tmp_path: Path) -> None:
    x, _ = inputs_and_labels()
    reference = probabilities(x)
    reference[3] = reference[3][::-1]  # one row whose reference disagrees with the model
    header = [f"x[{i}]" for i in range(4)] + [f"probabilities[{i}]" for i in range(3)]
    rows = [",".join(repr(float(v)) for v in [*a, *b]) for a, b in zip(x, reference, strict=True)]
    data = tmp_path / "rows.csv"
    tmp_path.mkdir(exist_ok=True)
    data.write_text("\n".join([",".join(header), *rows]) + "\n")
    manifest = write_bundle(
        tmp_path, gates="argmax_agreement: {min: 0.95}\n    max_abs_diff: {max: 0.001}"
    )
    section = "  task: any\n  reference: probabilities\n"
    retask(manifest, section + "  metrics: [max_abs_diff, argmax_agreement]\n", data)
    result = evaluate_manifest(load_manifest(manifest))
    metrics = result.candidate.metrics
    predicted = probabilities(x)
    assert predicted[3].argmax() != reference[3].argmax()
    assert metrics["argmax_agreement"] == pytest.approx(0.9)
    assert metrics["max_abs_diff"] == pytest.approx(np.max(np.abs(predicted - reference)), rel=1e-4)
    assert not result.passed
    text = format_evaluation(result, "text")
    assert "FAIL  max_abs_diff max 0.001" in text
