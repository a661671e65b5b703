"""`optimize_manifest`: make a candidate, evaluate it beside the original on the same data in
one run, and only when every gate passes put it beside the old model and repoint the manifest."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelstack.errors import DatasetError, EvaluationError
from modelstack.evaluate.datasets import Dataset, load_datasets
from modelstack.evaluate.gates import check_gates
from modelstack.evaluate.runner import (
    EvaluationResult,
    Subject,
    evaluate_subjects,
    in_process_client,
    require_evaluation,
)
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest
from modelstack.modelfile import check_model, sha256_file
from modelstack.optimize.edit import edit_model_fields, write_manifest_text
from modelstack.optimize.methods import CALIBRATION_ROWS, optimise
from modelstack.smoke.local import prepare_local

__all__ = ["OptimizeOutcome", "candidate_name", "optimize_manifest"]


@dataclass(frozen=True)
class OptimizeOutcome:
    result: EvaluationResult
    """The candidate's evaluation, with the original model as the baseline."""
    written: Path | None
    """The new model file, when the gates passed and this was not a dry run."""
    sha256: str


def candidate_name(model_path: str, method: str) -> str:
    """Where the candidate goes, beside the original: model.onnx -> model.dynamic-int8.onnx."""
    path = Path(model_path)
    return str(path.with_name(f"{path.stem}.{method}{path.suffix or '.onnx'}"))


def _calibration(
    manifest: Manifest, datasets: list[Dataset], name: str | None
) -> list[dict[str, np.ndarray]]:
    spec = require_evaluation(manifest)
    chosen = datasets
    if name is not None:
        chosen = [d for d in datasets if d.name == name]
        if not chosen:
            known = ", ".join(d.name for d in datasets)
            raise DatasetError(f"--calibration '{name}' is not a data set (data sets: {known})")
    batches: list[dict[str, np.ndarray]] = []
    rows = 0
    for dataset in chosen:
        for start in range(0, dataset.rows, spec.batch_size):
            if rows >= CALIBRATION_ROWS:
                return batches
            take = min(spec.batch_size, CALIBRATION_ROWS - rows)
            batches.append({n: a[start : start + take] for n, a in dataset.inputs.items()})
            rows += take
    return batches


def optimize_manifest(
    manifest_path: str, *, method: str, calibration: str | None = None, dry_run: bool = False
) -> OptimizeOutcome:
    """Evaluate `method`'s candidate against the current model; write it only if it passes."""
    manifest = load_manifest(manifest_path)
    spec = require_evaluation(manifest)
    bundle = prepare_local(manifest)
    datasets = load_datasets(manifest, bundle.signature)
    original = Path(bundle.config.model_path)
    target_rel = candidate_name(manifest.model.path, method)
    with tempfile.TemporaryDirectory(prefix="modelstack-optimize-") as scratch:
        candidate = Path(scratch) / "candidate.onnx"
        optimise(method, original, candidate, Path(scratch), _calibration(manifest, datasets,
                                                                          calibration))  # fmt: skip
        check_model(candidate)
        subjects = [
            Subject(target_rel, in_process_client(manifest, bundle, candidate), candidate),
            Subject(manifest.model.path, in_process_client(manifest, bundle, original), original),
        ]
        try:
            scores = evaluate_subjects(spec, bundle.signature, datasets, subjects)
        finally:
            for subject in subjects:
                subject.client.close()
        gates = check_gates(spec.gates, scores[0].values(), scores[1].values())
        result = EvaluationResult(str(manifest.path), None, scores[0], scores[1], tuple(gates))
        digest = sha256_file(candidate)
        if dry_run or not result.passed:
            return OptimizeOutcome(result, None, digest)
        return OptimizeOutcome(result, _install(manifest, candidate, target_rel, digest), digest)


def _install(manifest: Manifest, candidate: Path, relative: str, digest: str) -> Path:
    """Copy the candidate beside the model, then repoint the manifest (checked by reloading)."""
    raw = manifest.path.read_bytes()
    bom = b"\xef\xbb\xbf" if raw.startswith(b"\xef\xbb\xbf") else b""
    text = raw[len(bom) :].decode("utf-8")
    edited = edit_model_fields(text, str(manifest.path), path=relative, sha256=digest)
    dest = manifest.directory / relative
    shutil.copyfile(candidate, dest)
    write_manifest_text(manifest.path, bom.decode("utf-8") + edited if bom else edited)
    reloaded = load_manifest(manifest.path)
    if (reloaded.model.path, reloaded.model.sha256) != (relative, digest):
        raise EvaluationError(
            f"{manifest.path}: the edited manifest does not read back as intended"
        )
    return dest
