"""`evaluate_manifest`: a model's metrics, latency and size on the manifest's data sets, and
its gates, through the same data plane the runtime serves with (or any `InferenceClient`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelstack.errors import EvaluationError
from modelstack.evaluate.datasets import Dataset, load_datasets
from modelstack.evaluate.gates import GateResult, check_gates
from modelstack.evaluate.scoring import ModelScores, measure_latency, run_outputs, score
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.manifest.model import Manifest
from modelstack.modelfile import ModelSignature, verify_model
from modelstack.runtime_config import runtime_config
from modelstack.smoke.clients import InferenceClient, InProcessClient
from modelstack.smoke.local import LocalBundle, prepare_local

__all__ = [
    "EvaluationResult",
    "Subject",
    "evaluate_manifest",
    "evaluate_subjects",
    "in_process_client",
    "require_evaluation",
]


@dataclass(frozen=True)
class EvaluationResult:
    """The evaluated model's scores, the baseline's (if any) and every gate's outcome."""

    manifest: str
    target: str | None
    candidate: ModelScores
    baseline: ModelScores | None
    gates: tuple[GateResult, ...]

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest,
            "target": self.target,
            "passed": self.passed,
            "candidate": self.candidate.to_dict(),
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "gates": [
                {"metric": g.metric, "bound": g.bound, "limit": g.limit, "value": g.value,
                 "baseline": g.baseline, "result": g.verdict, "detail": g.detail}
                for g in self.gates
            ],
        }  # fmt: skip


@dataclass(frozen=True)
class Subject:
    """A model to evaluate: how to reach it, and its file (for size_mb)."""

    label: str
    client: InferenceClient
    model_file: Path


def require_evaluation(manifest: Manifest) -> EvaluationSpec:
    if manifest.evaluation is None:
        raise EvaluationError(
            f"{manifest.path}: the manifest has no evaluation section; add evaluation.task, "
            "evaluation.datasets and evaluation.gates (see the README's 'Evaluation and "
            "optimisation')"
        )
    return manifest.evaluation


def in_process_client(manifest: Manifest, bundle: LocalBundle, model_path: Path) -> InProcessClient:
    """The runtime's data plane in this process, serving `model_path` with the manifest's
    runtime settings (the same code path as `modelstack test` and the images)."""
    from modelstack_runtime.dataplane import load_dataplane

    config = runtime_config(manifest, model_path, bundle.cases)
    return InProcessClient(load_dataplane(config), manifest.name)


def batch_size(spec: EvaluationSpec, signature: ModelSignature) -> int:
    """evaluation.batch_size, or fewer rows when an input's first axis is fixed (an image
    input of a processing graph takes one image a request)."""
    fixed = [t.shape[0] for t in signature.inputs if t.shape and t.shape[0] > 0]
    return min([spec.batch_size, *fixed])


def evaluate_subjects(
    spec: EvaluationSpec,
    signature: ModelSignature,
    datasets: Sequence[Dataset],
    subjects: Sequence[Subject],
) -> list[ModelScores]:
    """Scores for each subject on the same data, latency measured interleaved."""
    latencies = measure_latency([s.client for s in subjects], datasets[0], spec.latency_runs)
    results = []
    for subject, (p50, p99) in zip(subjects, latencies, strict=True):
        outputs = [run_outputs(subject.client, d, batch_size(spec, signature)) for d in datasets]
        metrics, per_dataset = score(spec, signature, outputs, datasets)
        results.append(
            ModelScores(
                model=subject.label,
                size_mb=subject.model_file.stat().st_size / 1e6,
                p50_ms=p50,
                p99_ms=p99,
                metrics=metrics,
                per_dataset=per_dataset,
                rows=sum(d.rows for d in datasets),
            )
        )
    return results


def evaluate_manifest(
    manifest: Manifest,
    *,
    target: str | None = None,
    client: InferenceClient | None = None,
    baseline: ModelScores | None = None,
) -> EvaluationResult:
    """Evaluate the manifest's model on its data sets and check the gates.

    `client` reaches the model under test (default: the runtime's data plane in this process);
    pass a client for a deployed endpoint to evaluate what it serves. The baseline is
    evaluation.baseline, run in this process on the same data, else `baseline` (a recorded
    result, such as the stable release's), else none.
    """
    spec = require_evaluation(manifest)
    if target is not None and target not in manifest.targets:
        raise EvaluationError(
            f"{manifest.path}: no target '{target}' (targets: {', '.join(manifest.targets)})"
        )
    bundle = prepare_local(manifest)
    datasets = load_datasets(manifest, bundle.signature)
    model_file = Path(bundle.config.model_path)
    own = client is None
    under_test = client or in_process_client(manifest, bundle, model_file)
    subjects = [Subject(manifest.model.path, under_test, model_file)]
    if spec.baseline is not None:
        path, _ = verify_model(manifest.directory, spec.baseline.path, spec.baseline.sha256)
        subjects.append(
            Subject(spec.baseline.path, in_process_client(manifest, bundle, path), path)
        )
    try:
        scores = evaluate_subjects(spec, bundle.signature, datasets, subjects)
    finally:
        for s in subjects if own else subjects[1:]:
            s.client.close()
    base = scores[1] if len(scores) > 1 else baseline
    gates = check_gates(spec.gates, scores[0].values(), base.values() if base else None)
    return EvaluationResult(str(manifest.path), target, scores[0], base, tuple(gates))
