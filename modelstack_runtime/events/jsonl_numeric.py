"""A fast reader of `.jsonl` rows that all share one numeric layout, such as
``{"pixels": [0.0, 0.5, ...]}`` on every line: numpy parses every number of the object at once.

It applies when every input is floating point with a fixed row shape, the first line is a
record of exactly the inputs, and every other line has the same layout: the same keys in the
same order and the same brackets and commas, only the numbers differ (spaces only after ``,``
and ``:``, as ``json.dumps`` writes them). Each line's layout is checked with string and
numpy operations over the whole object, the numbers parsed by ``np.fromstring`` and counted,
so an
object that is not laid out so (or holds ``NaN``, strings, ``true``) gets ``None`` and is read
by the general reader, which names the line at fault. numpy reads numerals that JSON does
not allow (``.5``, ``1.``, ``+1``, ``01``, ``nan``), so those are looked for first, and an
object holding one goes to the general reader too.
"""

from __future__ import annotations

import json
import re
import warnings
from math import prod
from typing import Final

import numpy as np

from modelstack_runtime.datatypes import numpy_dtype
from modelstack_runtime.signature import Signature

__all__ = ["numeric_columns"]

_NAME: Final = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_PLACEHOLDERS: Final = "#$%&@!?;"
_NUMERALS: Final = str.maketrans("", "", "0123456789.-+eE ")
_SEPARATORS: Final = str.maketrans("{}[],:\n" + _PLACEHOLDERS, " " * (7 + len(_PLACEHOLDERS)))
_FLOATS: Final = frozenset({"FP16", "FP32", "FP64"})
_STRUCTURE: Final = str.maketrans("", "", "{}[],:\n" + _PLACEHOLDERS)


def numeric_columns(lines: list[str], signature: Signature) -> dict[str, np.ndarray] | None:
    """The rows of `lines` (blank ones removed) as input columns, or None when the fast
    reader does not apply (the general reader then reads them)."""
    specs = signature.inputs
    if not lines or not 0 < len(specs) <= len(_PLACEHOLDERS):
        return None
    if any(
        spec.datatype not in _FLOATS
        or not _NAME.fullmatch(spec.name)
        or any(d <= 0 for d in spec.shape[1:])
        for spec in specs
    ):
        return None
    order = _first_record_order(lines[0], signature)
    if order is None:
        return None
    text = "\n".join(lines)
    if any(c in text for c in _PLACEHOLDERS):
        return None
    for placeholder, name in zip(_PLACEHOLDERS, order, strict=False):
        text = text.replace(f'"{name}"', placeholder)
    if '"' in text or "\t" in text:
        return None
    first = text[: text.find("\n")] if len(lines) > 1 else text
    layout = first.translate(_NUMERALS)
    if layout.translate(_STRUCTURE) or text.translate(_NUMERALS) != "\n".join(
        [layout] * len(lines)
    ):
        return None  # not the same layout on every line, or not only numbers in it
    if not _json_numerals(text):
        return None
    return _parsed(text, lines, order, signature)


def _json_numerals(text: str) -> bool:
    """Whether every numeral is one JSON allows, and spaces come only after `,` and `:`
    (so none splits a numeral); boolean masks over the whole object's bytes."""
    if text.count(" ") != text.count(", ") + text.count(": "):
        return False
    if text.count("+") != text.count("e+") + text.count("E+"):
        return False  # a leading `+`
    p = np.frombuffer(b"," + text.encode("ascii") + b",", dtype=np.uint8)
    digit = (p >= ord("0")) & (p <= ord("9"))
    dot = p[1:-1] == ord(".")
    if (dot & ~(digit[:-2] & digit[2:])).any():
        return False  # `.5`, `1.`, `-.5`, `1.e5`
    start = (p == ord(",")) | (p == ord("[")) | (p == ord(":")) | (p == ord(" "))
    after = start[:-2] | ((p[:-2] == ord("-")) & np.concatenate(([True], start[:-3])))
    return not ((p[1:-1] == ord("0")) & after & digit[2:]).any()  # `01`, `-01`


def _first_record_order(line: str, signature: Signature) -> list[str] | None:
    """The first line's keys in their order, when it is a record of exactly the inputs."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict) or record.keys() != {s.name for s in signature.inputs}:
        return None
    for spec in signature.inputs:
        try:
            if np.shape(record[spec.name]) != tuple(spec.shape[1:]):
                return None
        except ValueError:  # a ragged list
            return None
    return list(record)


def _parsed(
    text: str, lines: list[str], order: list[str], signature: Signature
) -> dict[str, np.ndarray] | None:
    specs = {spec.name: spec for spec in signature.inputs}
    widths = [prod(specs[name].shape[1:]) for name in order]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy warns, and stops, at a token it cannot read
        try:
            values = np.fromstring(text.translate(_SEPARATORS), dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning):
            return None
    if values.size != len(lines) * sum(widths):
        return None
    table = values.reshape(len(lines), sum(widths))
    columns: dict[str, np.ndarray] = {}
    start = 0
    for name, width in zip(order, widths, strict=True):
        spec = specs[name]
        block = table[:, start : start + width].reshape((len(lines), *spec.shape[1:]))
        columns[name] = block.astype(numpy_dtype(spec.datatype))
        start += width
    return {spec.name: columns[spec.name] for spec in signature.inputs}
