"""The `.jsonl` results of a bucket object's rows, encoded a batch at a time.

Every line is a v2-style result of one row, ``{"model_name", "model_version", "id":
"<key>#<row>", "outputs": [{"name", "datatype", "shape": [1, ...], "data"}, ...]}``, the same
bytes as ``json.dumps(result, separators=(",", ":"))`` of that dict. Only the row number and
the data differ between lines, so the rest is one %-template made once per batch, and each
output's data is encoded for all rows of the batch in one ``json.dumps`` and split into rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from modelstack_runtime.datatypes import datatype_of
from modelstack_runtime.tensors import json_entry

__all__ = ["encode_rows"]

_COMPACT = (",", ":")


def encode_rows(
    model_name: str,
    model_version: str | None,
    key: str,
    first_row: int,
    outputs: Mapping[str, np.ndarray],
) -> bytes:
    """One line per row of `outputs` (first axis = rows), numbered from `first_row`."""
    count = next((int(array.shape[0]) for array in outputs.values()), 0)
    if count == 0:
        return b""
    names = {"model_name": model_name, "model_version": model_version}
    head = json.dumps(names, separators=_COMPACT)
    row_id = json.dumps(f"{key}#", separators=_COMPACT)[:-1]  # the open string, no quote yet
    opens = [_entry_open(name, array) for name, array in outputs.items()]
    template = (
        _escaped(f'{head[:-1]},"id":{row_id}')
        + '%d","outputs":['
        + "]},".join(_escaped(opened) + "%s" for opened in opens)
        + "]}]}\n"
    )
    data = [_row_data(name, array, count) for name, array in outputs.items()]
    lines = [template % (first_row + i, *row) for i, row in enumerate(zip(*data, strict=True))]
    return "".join(lines).encode()


def _entry_open(name: str, array: np.ndarray) -> str:
    """An output entry up to its data's opening bracket, for a one-row slice of `array`."""
    entry = {
        "name": name,
        "datatype": datatype_of(array.dtype),
        "shape": [1, *array.shape[1:]],
        "data": [],
    }
    return json.dumps(entry, separators=_COMPACT)[:-2]


def _row_data(name: str, array: np.ndarray, count: int) -> list[str]:
    """Each row's data as JSON, without the enclosing brackets."""
    if datatype_of(array.dtype) == "BYTES":  # strings may hold the separator: one by one
        return [
            json.dumps(json_entry(name, array[i : i + 1])["data"], separators=_COMPACT)[1:-1]
            for i in range(count)
        ]
    if array.size == 0:
        return [""] * count
    text = json.dumps(array.reshape(count, -1).tolist(), separators=_COMPACT)
    return text[2:-2].split("],[")


def _escaped(text: str) -> str:
    return text.replace("%", "%%")
