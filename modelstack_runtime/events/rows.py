"""Bounded readers of batch objects: `.npz`, `.jsonl` and `.csv` rows as input columns.

One implementation for every cloud's bucket events. Each reader turns an object's bytes into
the model's inputs by name, first axis = rows, in the datatypes of the model's signature:

* `.npz`: one array per input name, all with the same first dimension;
* `.jsonl`: one record per line, `{"input_name": value, ...}` (a value is one row's tensor);
  lines that all share one numeric layout are parsed by numpy at once (`jsonl_numeric`);
* `.csv`: a header of input names; an input's row is its cells in column order (repeat a
  name for each element of a vector input, `x,x,x,x`), reshaped to the input's row shape.

Every read is bounded before it allocates: the object's size (`max_object_bytes`), the rows
(`max_rows`) and, for `.npz`, the members' uncompressed size. A malformed object raises
:class:`MalformedObject` naming the object, the line and what is wrong.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from math import prod
from typing import Any, Final

import numpy as np

from modelstack_runtime.datatypes import numpy_dtype
from modelstack_runtime.errors import BadRequest, PayloadTooLarge
from modelstack_runtime.events.jsonl_numeric import numeric_columns
from modelstack_runtime.signature import Signature, TensorSpec

__all__ = [
    "MAX_EVENT_OBJECT_BYTES_ENV",
    "MAX_EVENT_ROWS_ENV",
    "SUFFIXES",
    "MalformedObject",
    "ObjectTooLarge",
    "RowLimits",
    "batches",
    "check_object_size",
    "read_rows",
    "row_count",
]

MAX_EVENT_OBJECT_BYTES_ENV: Final = "MODELSTACK_MAX_EVENT_OBJECT_BYTES"
MAX_EVENT_ROWS_ENV: Final = "MODELSTACK_MAX_EVENT_ROWS"
SUFFIXES: Final = (".npz", ".jsonl", ".csv")


class MalformedObject(BadRequest):
    """An object that cannot be read as rows; the message names the object and the place."""


class ObjectTooLarge(PayloadTooLarge):
    """An object (or its rows) above a limit; the message names the setting to raise."""


@dataclass(frozen=True)
class RowLimits:
    max_object_bytes: int = 100 * 1024 * 1024
    """Bytes of one object, and of an `.npz` object's uncompressed members."""
    max_rows: int = 1_000_000
    """Rows of one object."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RowLimits:
        """The limits from MODELSTACK_MAX_EVENT_OBJECT_BYTES and MODELSTACK_MAX_EVENT_ROWS."""
        env = os.environ if environ is None else environ
        return cls(
            max_object_bytes=_positive(env, MAX_EVENT_OBJECT_BYTES_ENV, cls.max_object_bytes),
            max_rows=_positive(env, MAX_EVENT_ROWS_ENV, cls.max_rows),
        )


def _positive(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{key}={raw!r} is not a positive integer")
    return value


def check_object_size(size: int, *, key: str, limits: RowLimits) -> None:
    """Refuse an object above `max_object_bytes` before reading any of it."""
    if size > limits.max_object_bytes:
        raise ObjectTooLarge(
            f"object {key} is {size} bytes, above the limit of {limits.max_object_bytes}; "
            f"raise {MAX_EVENT_OBJECT_BYTES_ENV} (max_object_bytes in the manifest) to read it"
        )


def read_rows(
    data: bytes, *, key: str, signature: Signature, limits: RowLimits
) -> dict[str, np.ndarray]:
    """The object's rows as the model's inputs by name (first axis = rows)."""
    check_object_size(len(data), key=key, limits=limits)
    suffix = next((s for s in SUFFIXES if key.endswith(s)), None)
    if suffix == ".npz":
        columns = _read_npz(data, key, signature, limits)
    elif suffix == ".jsonl":
        columns = _read_jsonl(data, key, signature, limits)
    elif suffix == ".csv":
        columns = _read_csv(data, key, signature, limits)
    else:
        raise MalformedObject(f"object {key} has no reader; name it *.npz, *.jsonl or *.csv")
    _check_rows(columns, key, limits)
    return columns


def row_count(columns: Mapping[str, np.ndarray]) -> int:
    """Rows in a set of columns (the first axis of any of them)."""
    return next((int(array.shape[0]) for array in columns.values()), 0)


def batches(
    columns: Mapping[str, np.ndarray], rows_per_batch: int
) -> Iterator[dict[str, np.ndarray]]:
    """Consecutive slices of at most `rows_per_batch` rows, in order."""
    if rows_per_batch < 1:
        raise ValueError("rows_per_batch must be at least 1")
    total = row_count(columns)
    for start in range(0, total, rows_per_batch):
        yield {name: array[start : start + rows_per_batch] for name, array in columns.items()}


def _check_rows(columns: Mapping[str, np.ndarray], key: str, limits: RowLimits) -> None:
    counts = {int(a.shape[0]) if a.ndim else -1 for a in columns.values()}
    if len(counts) > 1 or -1 in counts:
        raise MalformedObject(f"object {key}: the inputs do not have the same number of rows")
    if row_count(columns) > limits.max_rows:
        raise ObjectTooLarge(
            f"object {key} has {row_count(columns)} rows, above the limit of {limits.max_rows}; "
            f"raise {MAX_EVENT_ROWS_ENV}"
        )


def _read_npz(
    data: bytes, key: str, signature: Signature, limits: RowLimits
) -> dict[str, np.ndarray]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise MalformedObject(f"object {key} is not an .npz archive: {exc}") from None
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_object_bytes:
        raise ObjectTooLarge(
            f"object {key} unpacks to {unpacked} bytes, above the limit of "
            f"{limits.max_object_bytes}; raise {MAX_EVENT_OBJECT_BYTES_ENV}"
        )
    names = {m.filename.removesuffix(".npy") for m in members}
    _check_names(names, signature, key)
    columns: dict[str, np.ndarray] = {}
    for spec in signature.inputs:
        try:
            with archive.open(f"{spec.name}.npy") as member:
                array = np.lib.format.read_array(member, allow_pickle=False)
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise MalformedObject(
                f"object {key}: array {spec.name!r} is unreadable: {exc}"
            ) from None
        columns[spec.name] = _typed(array, spec, key, "array")
    return columns


def _read_jsonl(
    data: bytes, key: str, signature: Signature, limits: RowLimits
) -> dict[str, np.ndarray]:
    lines = [(n, line) for n, line in enumerate(_lines(data, key), start=1) if line.strip()]
    if len(lines) > limits.max_rows:
        raise ObjectTooLarge(
            f"object {key} has more than {limits.max_rows} rows; raise {MAX_EVENT_ROWS_ENV}"
        )
    fast = numeric_columns([line for _, line in lines], signature)
    if fast is not None:
        return {spec.name: _typed(fast[spec.name], spec, key, "input") for spec in signature.inputs}
    wanted = {spec.name for spec in signature.inputs}
    records: list[Any] = []
    for number, line in lines:
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise MalformedObject(f"object {key}, line {number}: not JSON ({exc})") from None
        except RecursionError:
            raise MalformedObject(f"object {key}, line {number}: the JSON nests too deep") from None
    for (number, _), record in zip(lines, records, strict=True):
        if not isinstance(record, dict):
            raise MalformedObject(f"object {key}, line {number}: a record must be a JSON object")
        if record.keys() != wanted:
            _check_names(set(record), signature, f"{key}, line {number}")
    return {
        spec.name: _stack([record[spec.name] for record in records], spec, key)
        for spec in signature.inputs
    }


def _read_csv(
    data: bytes, key: str, signature: Signature, limits: RowLimits
) -> dict[str, np.ndarray]:
    reader = csv.reader(_lines(data, key))
    try:
        header = next(reader)
    except StopIteration:
        raise MalformedObject(f"object {key} is empty; the first line names the inputs") from None
    except csv.Error as exc:
        raise MalformedObject(f"object {key}, line 1: {exc}") from None
    _check_names(set(header), signature, f"{key}, line 1")
    try:
        rows = list(itertools.islice(reader, limits.max_rows + 1))
    except csv.Error as exc:
        raise MalformedObject(f"object {key}, line {reader.line_num}: {exc}") from None
    if len(rows) > limits.max_rows:
        raise ObjectTooLarge(
            f"object {key} has more than {limits.max_rows} rows; raise {MAX_EVENT_ROWS_ENV}"
        )
    if set(map(len, rows)) - {len(header)}:
        _ragged_row(data, key, len(header))
    longest = max(map(len, itertools.chain.from_iterable(rows)), default=0)
    table: Any = rows
    if len(rows) * len(header) * longest <= 2 * len(data):  # numpy's cells are all as wide
        table = np.array(rows, dtype=str).reshape(len(rows), len(header))
    columns = {}
    for spec in signature.inputs:
        where = [i for i, name in enumerate(header) if name == spec.name]
        cells: Any
        if isinstance(table, np.ndarray):
            cells = table[:, where]
        else:  # a few long cells: a list per row, as wide as it is
            cells = [[row[i] for i in where] for row in rows]
        columns[spec.name] = _stack(cells, spec, key, csv_row=True)
    return columns


def _ragged_row(data: bytes, key: str, width: int) -> None:
    """Name the first row whose cells do not match the header (the error path only)."""
    reader = csv.reader(_lines(data, key))
    next(reader)
    for row in reader:
        if len(row) != width:
            raise MalformedObject(
                f"object {key}, line {reader.line_num}: {len(row)} cells under a header of {width}"
            )


def _lines(data: bytes, key: str) -> list[str]:
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise MalformedObject(f"object {key} is not UTF-8 text (byte {exc.start})") from None


def _check_names(names: set[str], signature: Signature, where: str) -> None:
    wanted = {spec.name for spec in signature.inputs}
    if names != wanted:
        missing = ", ".join(sorted(wanted - names)) or "none"
        unknown = ", ".join(sorted(names - wanted)) or "none"
        raise MalformedObject(
            f"object {where}: the inputs must be exactly {', '.join(sorted(wanted))} "
            f"(missing: {missing}; unknown: {unknown})"
        )


def _stack(values: Any, spec: TensorSpec, key: str, *, csv_row: bool = False) -> np.ndarray:
    row_shape = spec.shape[1:]
    dtype = numpy_dtype(spec.datatype)
    try:
        array = np.asarray(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise MalformedObject(
            f"object {key}: input {spec.name!r} is not {spec.datatype} rows of one shape ({exc})"
        ) from None
    if csv_row:
        width = array.shape[1] if array.ndim == 2 else 0
        fixed = all(d >= 0 for d in row_shape)
        if fixed and prod(row_shape) == width:
            array = array.reshape((len(values), *row_shape))
        elif not row_shape and width == 1:
            array = array.reshape((len(values),))
        elif len(values):
            raise MalformedObject(
                f"object {key}: input {spec.name!r} has {width} column(s) per row; its row "
                f"shape is {list(row_shape)} (repeat the name in the header once per element)"
            )
    return _typed(array, spec, key, "input")


def _typed(array: np.ndarray, spec: TensorSpec, key: str, what: str) -> np.ndarray:
    if array.ndim != len(spec.shape) or not spec.matches_shape((spec.shape[0], *array.shape[1:])):
        raise MalformedObject(
            f"object {key}: {what} {spec.name!r} has shape {list(array.shape)}; the model "
            f"takes {list(spec.shape)} (rows first)"
        )
    try:
        return array.astype(numpy_dtype(spec.datatype), copy=False, casting="same_kind")
    except TypeError:
        raise MalformedObject(
            f"object {key}: {what} {spec.name!r} is {array.dtype}; the model takes {spec.datatype}"
        ) from None
