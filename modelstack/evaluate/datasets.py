"""Evaluation data sets: found inside the bundle, pinned by sha256, bounded, checked against
the model's signature, and turned into the arrays the model takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelstack.errors import DatasetError, ModelError
from modelstack.evaluate.columns import DATASET_SUFFIXES
from modelstack.evaluate.npzfile import read_npz
from modelstack.evaluate.tabular import FileRef, parse_csv, parse_jsonl
from modelstack.manifest.evaluation import DatasetSpec, EvaluationSpec
from modelstack.manifest.model import Manifest, TensorSpec
from modelstack.modelfile import ModelSignature, resolve_in_bundle
from modelstack_runtime.datatypes import numpy_dtype

__all__ = ["Dataset", "load_datasets", "read_columns"]


@dataclass(frozen=True)
class Dataset:
    """One data set: the model's inputs and the expected values, by tensor name."""

    name: str
    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]

    @property
    def rows(self) -> int:
        return len(next(iter(self.inputs.values())))


def _bounded_bytes(path: Path, relative: str, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise ValueError(
            f"{relative} is {size:,} bytes, more than evaluation.max_bytes ({max_bytes:,}); "
            "raise evaluation.max_bytes or use a smaller data set"
        )
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"{relative} grew past evaluation.max_bytes ({max_bytes:,}) while read")
    return data


def read_columns(
    bundle: Path, relative: str, spec: EvaluationSpec, sha256: str | None
) -> dict[str, np.ndarray]:
    """The named arrays of a data set file; ValueError or ModelError saying what is wrong."""
    path = resolve_in_bundle(bundle, relative, what="data set")
    suffix = path.suffix.lower()
    if suffix not in DATASET_SUFFIXES:
        raise ValueError(f"'{relative}' is not a data set type; use one of {DATASET_SUFFIXES}")
    data = _bounded_bytes(path, relative, spec.max_bytes)
    if sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise ValueError(
                f"sha256 mismatch for '{relative}': the manifest pins {sha256}, the file is "
                f"{actual}. If the new data set is intended, update its sha256."
            )
    if suffix == ".npz":
        columns = read_npz(path, spec.max_bytes)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{relative} is not UTF-8 text (offset {exc.start})") from None
        columns = (parse_csv if suffix == ".csv" else parse_jsonl)(text, spec.max_rows)
    _check_rows(columns, spec.max_rows)
    return _read_files(bundle, relative, columns, spec.max_bytes - len(data))


def _read_files(
    bundle: Path, relative: str, columns: dict[str, np.ndarray], budget: int
) -> dict[str, np.ndarray]:
    """Columns with each `{"file": ...}` replaced by the file's bytes; the files together
    with the data set itself stay within evaluation.max_bytes."""
    for name, array in columns.items():
        if array.dtype != object or not any(isinstance(v, FileRef) for v in array):
            continue
        read = np.empty(len(array), dtype=object)
        for row, ref in enumerate(array):
            where = f"{relative} line {ref.line}: '{name}' file '{ref.path}'"
            try:
                path = resolve_in_bundle(bundle, ref.path, what="data set file")
            except ModelError as exc:
                raise ValueError(f"{where}: {exc}") from None
            if path.stat().st_size > budget:
                raise ValueError(
                    f"{where}: the data set and the files it names add up to more than "
                    "evaluation.max_bytes; raise evaluation.max_bytes or name fewer files"
                )
            read[row] = _bounded_bytes(path, ref.path, budget)
            budget -= len(read[row])
        columns[name] = read
    return columns


def _check_rows(columns: dict[str, np.ndarray], max_rows: int) -> None:
    if not columns:
        raise ValueError("the data set holds no arrays")
    counts = {name: (len(a) if a.ndim else -1) for name, a in columns.items()}
    if max(counts.values()) == 0:
        raise ValueError("the data set has no rows")
    if min(counts.values()) < 1 or len(set(counts.values())) != 1:
        raise ValueError(f"every array needs the same number of rows (first axis): {counts}")
    rows = next(iter(counts.values()))
    if rows > max_rows:
        raise ValueError(
            f"{rows:,} rows, more than evaluation.max_rows ({max_rows:,}); raise "
            "evaluation.max_rows or use a smaller data set"
        )


def _typed(array: np.ndarray, spec: TensorSpec) -> np.ndarray:
    row_shape = tuple(array.shape[1:])
    expected = spec.shape[1:] if spec.shape else ()
    if len(row_shape) != len(expected) or any(
        e not in (-1, a) for e, a in zip(expected, row_shape, strict=True)
    ):
        raise ValueError(
            f"'{spec.name}' rows have shape {list(row_shape)}; the model takes "
            f"{list(expected)} per row (-1: any size)"
        )
    dtype = numpy_dtype(spec.datatype)
    if (array.dtype.kind == "O") != (dtype.kind == "O"):
        held = "strings or files" if array.dtype.kind == "O" else "numbers"
        raise ValueError(
            f"'{spec.name}' holds {held}; the model takes {spec.datatype} (a BYTES input "
            'takes a string or {"file": "path"} per row)'
        )
    if dtype.kind in "iu" and array.dtype.kind == "f" and not np.all(np.mod(array, 1) == 0):
        raise ValueError(f"'{spec.name}' must hold integers ({spec.datatype})")
    return array.astype(dtype, copy=False)


def _split(
    columns: dict[str, np.ndarray], signature: ModelSignature, spec: EvaluationSpec
) -> Dataset:
    wanted = {n for n in (spec.labels, spec.reference) if n}
    unknown = sorted(set(columns) - {t.name for t in signature.inputs} - wanted)
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} is neither a model input nor a labels/reference "
            f"output (inputs: {', '.join(t.name for t in signature.inputs)}; expected values: "
            f"{', '.join(sorted(wanted)) or 'none configured'})"
        )
    missing = [t.name for t in signature.inputs if t.name not in columns]
    missing += sorted(wanted - set(columns))
    if missing:
        raise ValueError(f"no values for {', '.join(map(repr, missing))}; add them by that name")
    inputs = {t.name: _typed(columns[t.name], t) for t in signature.inputs}
    expected = {n: np.asarray(columns[n]) for n in sorted(wanted)}
    return Dataset("", inputs, expected)


def load_datasets(manifest: Manifest, signature: ModelSignature) -> list[Dataset]:
    """Every data set of the manifest's evaluation section, checked against `signature`."""
    spec = manifest.evaluation
    if spec is None:
        raise DatasetError(f"{manifest.path}: the manifest has no evaluation section")
    return [load_dataset(manifest, signature, entry) for entry in spec.datasets]


def load_dataset(manifest: Manifest, signature: ModelSignature, entry: DatasetSpec) -> Dataset:
    """One data set, or DatasetError naming the manifest position and the problem."""
    spec = manifest.evaluation
    assert spec is not None
    where = f"{manifest.source.position(entry.where)}: data set '{entry.name}' ({entry.path})"
    try:
        columns = read_columns(manifest.directory, entry.path, spec, entry.sha256)
        dataset = _split(columns, signature, spec)
    except (ValueError, ModelError) as exc:
        raise DatasetError(f"{where}: {exc}") from None
    return Dataset(entry.name, dataset.inputs, dataset.expected)
