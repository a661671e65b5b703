"""CSV and JSON-lines data sets: rows of named values, parsed from bounded text.

Errors name the line of the data file. Rows beyond `max_rows` are refused while reading, so a
huge file never becomes a huge array. A `.jsonl` value may also be a string (a class name, or
text for a BYTES input) or `{"file": "path"}`, a bundle file sent whole as one BYTES element
(an image for a model with `model.preprocess`); the loader reads those files, bounded.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelstack.evaluate.columns import parse_column

__all__ = ["FileRef", "parse_csv", "parse_jsonl"]


@dataclass(frozen=True)
class FileRef:
    """`{"file": path}` in a data set: a bundle file, read by the loader."""

    path: str
    line: int


def _too_many(max_rows: int) -> ValueError:
    return ValueError(
        f"more than evaluation.max_rows ({max_rows:,}) rows; raise evaluation.max_rows "
        "or use a smaller data set"
    )


def _layout(header: list[str]) -> dict[str, list[int]]:
    """Column positions by tensor name, in element order; ValueError for gaps or repeats."""
    elements: dict[str, dict[int | None, int]] = {}
    for position, text in enumerate(header):
        name, index = parse_column(text)
        slots = elements.setdefault(name, {})
        if index in slots or (index is None and slots) or (index is not None and None in slots):
            raise ValueError(f"column '{text}' repeats or mixes NAME and NAME[i] for '{name}'")
        slots[index] = position
    layout: dict[str, list[int]] = {}
    for name, slots in elements.items():
        if None in slots:
            layout[name] = [slots[None]]
            continue
        indexes = sorted(i for i in slots if i is not None)
        if indexes != list(range(len(indexes))):
            missing = sorted(set(range(max(indexes) + 1)) - set(indexes))
            raise ValueError(f"'{name}' has no column for element(s) {missing[:5]}")
        layout[name] = [slots[i] for i in indexes]
    return layout


def parse_csv(text: str, max_rows: int) -> dict[str, np.ndarray]:
    """Columns by tensor name: shape (rows,) for NAME, (rows, n) for NAME[0..n-1]."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse_rows(reader, max_rows)
    except csv.Error as exc:
        raise ValueError(f"line {reader.line_num}: not valid CSV ({exc})") from None


def _parse_rows(reader: Any, max_rows: int) -> dict[str, np.ndarray]:
    header = next(reader, None)
    if not header:
        raise ValueError("line 1: the file has no header row naming its columns")
    try:
        layout = _layout(header)
    except ValueError as exc:
        raise ValueError(f"line 1: {exc}") from None
    values: list[list[float]] = []
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(values) >= max_rows:
            raise ValueError(f"line {line}: {_too_many(max_rows)}")
        if len(row) != len(header):
            raise ValueError(f"line {line}: {len(row)} values for {len(header)} columns")
        try:
            values.append([float(v) for v in row])
        except ValueError as exc:
            raise ValueError(f"line {line}: a value is not a number ({exc})") from None
    if not values:
        raise ValueError("the file has a header but no rows")
    table = np.asarray(values, dtype=np.float64)
    return {
        name: table[:, cols[0]] if len(cols) == 1 and "[" not in header[cols[0]] else table[:, cols]
        for name, cols in layout.items()
    }


def _row_array(value: Any, name: str, line: int) -> np.ndarray:
    if isinstance(value, dict):
        if set(value) != {"file"} or not isinstance(value["file"], str) or not value["file"]:
            raise ValueError(
                f"line {line}: '{name}' is an object; the only one allowed is "
                '{"file": "path/in/the/bundle"}'
            )
        value = FileRef(value["file"], line)
    if isinstance(value, (str, FileRef)):
        scalar = np.empty((), dtype=object)
        scalar[()] = value
        return scalar
    try:
        array = np.asarray(value)
    except ValueError:
        raise ValueError(f"line {line}: '{name}' is a ragged list") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f'line {line}: \'{name}\' must hold numbers or booleans, a string or {{"file": "path"}}'
        )
    return array


def parse_jsonl(text: str, max_rows: int) -> dict[str, np.ndarray]:
    """Columns by name from one JSON object per line; every line names the same tensors."""
    columns: dict[str, list[np.ndarray]] = {}
    names: list[str] | None = None
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        if names is not None and len(columns[names[0]]) >= max_rows:
            raise ValueError(f"line {line}: {_too_many(max_rows)}")
        try:
            item = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"line {line}: not JSON ({exc})") from None
        if not isinstance(item, dict) or not item:
            raise ValueError(f"line {line}: each line must be a JSON object of named values")
        if names is None:
            names = list(item)
            columns = {name: [] for name in names}
        if set(item) != set(names):
            raise ValueError(f"line {line}: names {sorted(item)} differ from line 1's {names}")
        for name in names:
            array = _row_array(item[name], name, line)
            first = columns[name][0] if columns[name] else array
            if (array.dtype == object) != (first.dtype == object) or (
                array.dtype == object and type(array[()]) is not type(first[()])
            ):
                raise ValueError(
                    f"line {line}: '{name}' mixes kinds of value (numbers, strings, files) "
                    "with earlier lines; keep one kind per name"
                )
            if array.shape != first.shape:
                raise ValueError(
                    f"line {line}: '{name}' has shape {list(array.shape)}, "
                    f"earlier lines {list(first.shape)}"
                )
            columns[name].append(array)
    if names is None:
        raise ValueError("the file has no rows")
    return {name: np.stack(parts) for name, parts in columns.items()}
