"""The drift reference profile, computed at build time and shipped in the runtime config.

From `monitoring.reference` (a data file in the bundle, bounded by its max_rows and max_bytes)
or else the evaluation data sets: for each watched input feature (each column of a row, at most
`watch.max_features`) the inner edges of its 10 quantile bins and the reference's fraction in
each, and for each output the class frequencies (integer outputs, and the argmax of float
outputs with several columns) or 10 quantile bins. The model runs on the reference to get its
outputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from modelstack.errors import DatasetError, ModelError, UsageError
from modelstack.manifest.evaluation import EvaluationSpec
from modelstack.manifest.model import Manifest, TensorSpec
from modelstack.modelfile import ModelSignature
from modelstack.monitor.spec import MonitoringSpec, monitoring_spec
from modelstack.smoke.local import LocalBundle
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.datatypes import numpy_dtype
from modelstack_runtime.drift import DriftProfile, FeatureBins, OutputBins, bin_index

__all__ = [
    "BINS",
    "MAX_CLASSES",
    "build_profile",
    "reference_inputs",
    "reference_profile",
    "with_reference_profile",
]

BINS: Final = 10
MAX_CLASSES: Final = 100
"""An integer output with more distinct values than this is binned like a float one."""
_BATCH: Final = 256
_NUMERIC: Final = "biuf"


def with_reference_profile(
    manifest: Manifest, bundle: LocalBundle, config: RuntimeConfig
) -> RuntimeConfig:
    """The build step: ``config`` with the drift profile when the manifest has `monitoring:`."""
    profile = reference_profile(manifest, bundle.signature, bundle.config)
    return config if profile is None else dataclasses.replace(config, monitoring=profile)


def reference_profile(
    manifest: Manifest, signature: ModelSignature, config: RuntimeConfig
) -> dict[str, Any] | None:
    """The profile's JSON form for the runtime config; None without `monitoring:`."""
    spec = monitoring_spec(manifest)
    if spec is None:
        return None
    inputs = reference_inputs(manifest, signature, spec)
    outputs = _run(config, inputs)
    return build_profile(spec, signature, inputs, outputs).to_dict()


def reference_inputs(
    manifest: Manifest, signature: ModelSignature, spec: MonitoringSpec
) -> dict[str, np.ndarray]:
    """The reference rows by input name; DatasetError naming the manifest position."""
    if spec.reference is not None:
        from modelstack.evaluate.datasets import read_columns

        ref = spec.reference
        where = f"{manifest.source.position(('monitoring', 'reference', 'path'))}: {ref.path}"
        bounds = EvaluationSpec(task="any", datasets=(), max_rows=ref.max_rows,
                                max_bytes=ref.max_bytes)  # fmt: skip
        try:
            columns = read_columns(manifest.directory, ref.path, bounds, ref.sha256)
            return {t.name: _typed(columns, t) for t in signature.inputs}
        except (ValueError, ModelError) as exc:
            message = str(exc).replace("evaluation.max_", "monitoring.reference.max_")
            raise DatasetError(f"{where}: {message}") from None
    if manifest.evaluation is None:
        raise UsageError(
            f"{manifest.source.position(('monitoring',))}: monitoring has no reference data; "
            "set monitoring.reference.path or add evaluation.datasets"
        )
    from modelstack.evaluate.datasets import load_datasets

    datasets = load_datasets(manifest, signature)
    return {t.name: np.concatenate([d.inputs[t.name] for d in datasets]) for t in signature.inputs}


def _typed(columns: dict[str, np.ndarray], tensor: TensorSpec) -> np.ndarray:
    if tensor.name not in columns:
        raise ValueError(f"no values for the model input {tensor.name!r}; add them by that name")
    array = np.asarray(columns[tensor.name])
    expected = list(tensor.shape[1:]) if tensor.shape else []
    got = list(array.shape[1:])
    fits = len(got) == len(expected) and all(
        e in (-1, g) for e, g in zip(expected, got, strict=True)
    )
    if not fits:
        raise ValueError(f"{tensor.name!r} rows have shape {got}; the model takes {expected}")
    return array.astype(numpy_dtype(tensor.datatype), copy=False)


def _run(config: RuntimeConfig, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from modelstack_runtime.model import Model

    model = Model.load(config)
    rows = len(next(iter(inputs.values())))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, rows, _BATCH):
        parts.append(model.infer({n: a[start : start + _BATCH] for n, a in inputs.items()}, None))
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _quantile_edges(values: np.ndarray) -> tuple[float, ...]:
    quantiles = np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1])
    return tuple(float(v) for v in np.unique(quantiles))


def _fractions(bins: np.ndarray, size: int) -> tuple[float, ...]:
    counts = np.bincount(bins, minlength=size)[:size]
    total = max(int(counts.sum()), 1)
    return tuple(float(c) / total for c in counts)


def _watched(spec: MonitoringSpec, signature: ModelSignature) -> list[TensorSpec]:
    watched = spec.watch.inputs
    if watched is None:
        return [t for t in signature.inputs if numpy_dtype(t.datatype).kind in _NUMERIC]
    unknown = [n for n in watched if signature.input(n) is None]
    if unknown:
        names = ", ".join(t.name for t in signature.inputs)
        raise UsageError(f"monitoring.watch.inputs names {unknown}; the model's inputs: {names}")
    return [t for t in signature.inputs if t.name in watched]


def build_profile(
    spec: MonitoringSpec,
    signature: ModelSignature,
    inputs: dict[str, np.ndarray],
    outputs: dict[str, np.ndarray],
) -> DriftProfile:
    """Bins and reference fractions of the watched features and of every numeric output."""
    features: list[FeatureBins] = []
    for tensor in _watched(spec, signature):
        flat = inputs[tensor.name].reshape(len(inputs[tensor.name]), -1).astype(np.float64)
        for column in range(flat.shape[1]):
            if len(features) >= spec.watch.max_features:
                break
            values = flat[:, column]
            edges = _quantile_edges(values)
            name = tensor.name if flat.shape[1] == 1 else f"{tensor.name}[{column}]"
            expected = _fractions(bin_index(values, edges), len(edges) + 1)
            features.append(FeatureBins(name, tensor.name, column, edges, expected))
    return DriftProfile(
        tuple(features),
        tuple(_output(name, array) for name, array in outputs.items() if _numeric(array)),
        window_requests=None if spec.window.seconds is not None else spec.window.requests,
        window_seconds=spec.window.seconds,
        slices=spec.window.slices,
        min_rows=spec.window.min_rows,
        warn=spec.thresholds.psi_warn,
        alarm=spec.thresholds.psi_alarm,
    )


def _numeric(array: np.ndarray) -> bool:
    return array.dtype.kind in _NUMERIC and array.ndim > 0


def _output(name: str, array: np.ndarray) -> OutputBins:
    rows = array.reshape(len(array), -1)
    if rows.dtype.kind == "f" and rows.shape[1] > 1:
        classes: Sequence[int] = range(rows.shape[1])
        values = rows.argmax(axis=1)
    else:
        values = rows.ravel()
        distinct = np.unique(values)
        classes = [int(v) for v in distinct] if _is_classes(values, distinct) else []
    if classes:
        lookup = np.asarray(list(classes), dtype=np.int64)
        index = np.searchsorted(lookup, values.astype(np.int64))
        return OutputBins(name, _fractions(index, len(lookup) + 1), classes=tuple(lookup.tolist()))
    flat = values.astype(np.float64)
    edges = _quantile_edges(flat)
    return OutputBins(name, _fractions(bin_index(flat, edges), len(edges) + 1), edges=edges)


def _is_classes(values: np.ndarray, distinct: np.ndarray) -> bool:
    return values.dtype.kind in "biu" and len(distinct) <= MAX_CLASSES
