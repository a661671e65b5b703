"""Bounds on a JSON request body, checked on the raw bytes before it is parsed.

Parsing builds a Python object per value, so a body of ``[[],[],...]`` costs far more memory
than its size; and nesting deep enough exhausts the parser's recursion. Both are measured on
the bytes first (strings blanked out, then brackets and commas counted with numpy) and refused
with a 4xx, so no request can make the parser allocate more than ``max_json_values`` objects.

Both counts only shrink when strings are blanked out, and a body has fewer values than bytes,
so a short body with few brackets is accepted without blanking anything: the common small
request pays two byte counts.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np

from modelstack_runtime.errors import BadRequest, PayloadTooLarge
from modelstack_runtime.validation import MAX_RANK

__all__ = ["MAX_JSON_DEPTH", "check_json_limits", "json_depth"]

MAX_JSON_DEPTH: Final = MAX_RANK + 8
"""A request nests a tensor's data three levels down, plus its rank; parameters need a few."""

# A JSON string, escapes included (the unrolled form: no backtracking on long strings).
_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_CHUNK: Final = 1 << 20
_OPEN_LIST, _OPEN_OBJECT, _CLOSE_LIST, _CLOSE_OBJECT = b"[{]}"


def check_json_limits(data: bytes, max_values: int, what: str = "request") -> None:
    """Refuse a body with more than ``max_values`` values or nesting beyond MAX_JSON_DEPTH."""
    if len(data) < max_values and data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH:
        return  # at most len(data) values, and no more brackets than the raw bytes hold
    if b'"' in data:
        data = _STRING.sub(b"0", data)  # a string is one value; its commas and brackets are not
    opened = data.count(b"[") + data.count(b"{")
    values = data.count(b",") + opened + 1  # an upper bound: every value after the first
    if values > max_values:
        raise PayloadTooLarge(
            f"the {what} JSON holds more than {max_values} values; send large tensors with "
            "the binary tensor data extension or raise the runtime setting max_json_values"
        )
    if opened > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        raise BadRequest(
            f"the {what} JSON nests deeper than {MAX_JSON_DEPTH} levels "
            f"(tensors may have at most {MAX_RANK} dimensions)"
        )


def json_depth(data: bytes) -> int:
    """The deepest bracket nesting of JSON text whose strings were blanked out."""
    array = np.frombuffer(data, dtype=np.uint8)
    depth = peak = 0
    for start in range(0, array.size, _CHUNK):
        chunk = array[start : start + _CHUNK]
        delta = (
            (chunk == _OPEN_LIST).view(np.int8)
            + (chunk == _OPEN_OBJECT).view(np.int8)
            - (chunk == _CLOSE_LIST).view(np.int8)
            - (chunk == _CLOSE_OBJECT).view(np.int8)
        )
        levels = np.cumsum(delta, dtype=np.int32)
        peak = max(peak, depth + int(levels.max()))
        depth += int(levels[-1])
    return peak
