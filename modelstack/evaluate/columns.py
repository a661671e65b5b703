"""Which tensors a data set file holds, read from its header only and without numpy.

CSV columns are named `NAME` (one value per row) or `NAME[i]` (the i-th value of the row's
tensor, flattened). `.npz` members are `NAME.npy`. Each line of a `.jsonl` file maps names to
values. Lint uses these functions with model checks on; the loader uses the same CSV header
parser, so both agree on what a column name means.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from pathlib import Path

__all__ = [
    "DATASET_SUFFIXES",
    "MAX_HEADER_BYTES",
    "ColumnName",
    "dataset_names",
    "parse_column",
]

DATASET_SUFFIXES = (".npz", ".csv", ".jsonl")
MAX_HEADER_BYTES = 1024 * 1024
"""A CSV header or the first JSON line longer than this is refused."""

_COLUMN = re.compile(r"^(?P<name>[^\[\]]+?)(?:\[(?P<index>\d{1,9})\])?$")

ColumnName = tuple[str, int | None]
"""A CSV column: the tensor name, and the element index (None for a one-value column)."""


def parse_column(header: str) -> ColumnName:
    """`x` -> ("x", None); `x[3]` -> ("x", 3). ValueError for anything else."""
    match = _COLUMN.match(header.strip())
    if match is None:
        raise ValueError(
            f"column '{header}' is not NAME or NAME[i] (i a non-negative integer element index)"
        )
    index = match.group("index")
    return match.group("name"), None if index is None else int(index)


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        line = handle.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES:
        raise ValueError(f"the first line is longer than {MAX_HEADER_BYTES:,} bytes")
    try:
        return line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the first line is not UTF-8 ({exc.reason})") from None


def dataset_names(path: Path) -> list[str]:
    """The tensor names a data set holds, in file order; ValueError when it cannot tell."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with zipfile.ZipFile(path) as archive:
                members = archive.namelist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise ValueError(f"not a readable .npz archive ({exc})") from None
        return [m[: -len(".npy")] if m.endswith(".npy") else m for m in members]
    if suffix == ".csv":
        row = next(csv.reader(io.StringIO(_first_line(path))), [])
        if not row:
            raise ValueError("the file has no header row naming its columns")
        names: list[str] = []
        for header in row:
            name, _ = parse_column(header)
            if name not in names:
                names.append(name)
        return names
    if suffix == ".jsonl":
        line = _first_line(path).strip()
        try:
            first = json.loads(line) if line else None
        except ValueError as exc:
            raise ValueError(f"line 1 is not JSON ({exc})") from None
        if not isinstance(first, dict):
            raise ValueError("line 1 must be a JSON object mapping names to values")
        return list(first)
    raise ValueError(f"'{path.suffix}' is not a data set type; use one of {DATASET_SUFFIXES}")
