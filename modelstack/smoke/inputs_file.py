"""Reading a smoke test's `.npz` or `.json` inputs file within bounds, without numpy.

Lint (MS203) and the smoke-test loader share these checks, so lint reports the same bounds
that `test`, `serve`, `build` and `up` enforce, without decompressing any array. A `.npz` is
a zip of `.npy` members: each member's header states its dtype and shape, so the decompressed
size is known before any data is read, and object arrays (which only unpickling can load)
are refused. A `.json` file is parsed with its nesting and value count bounded.
"""

from __future__ import annotations

import ast
import io
import json
import math
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelstack.errors import UnsafeFileError
from modelstack.manifest.files import read_regular
from modelstack.manifest.limits import INPUTS_FILE_BYTES, SMOKE_INPUT_BYTES, SMOKE_INPUT_VALUES

__all__ = [
    "MAX_RANK",
    "NpyHeader",
    "check_value_count",
    "count_values",
    "npz_headers",
    "parse_json_inputs",
    "read_inputs_file",
]

MAX_RANK = 64
"""numpy arrays have at most 64 dimensions, so deeper nesting is never a tensor."""

_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 10_000  # numpy's own default bound on a .npy header
_DESCR = re.compile(r"[<>|=]?(?P<kind>[?bBiufcSUVOMm])(?P<size>\d*)(\[\w+\])?")


@dataclass(frozen=True)
class NpyHeader:
    """What one member of a .npz says about its array, before any of its data is read."""

    name: str
    descr: str
    shape: tuple[int, ...]
    itemsize: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.itemsize


def read_inputs_file(path: Path) -> bytes:
    """The bytes of an inputs file: a regular file within MODELSTACK_MAX_INPUTS_FILE_BYTES."""
    try:
        return read_regular(path, INPUTS_FILE_BYTES)
    except UnsafeFileError as exc:
        raise ValueError(exc.reason) from None


def npz_headers(raw: bytes) -> list[NpyHeader]:
    """The header of every array in a .npz, checked against MODELSTACK_MAX_SMOKE_INPUT_BYTES."""
    headers = []
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for info in archive.infolist():
                with archive.open(info) as member:
                    headers.append(_header(info.filename.removesuffix(".npy"), member))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error) as exc:
        raise ValueError(f"not a readable .npz archive ({exc})") from None
    except (EOFError, OSError, NotImplementedError, RuntimeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not a readable .npz archive ({exc})") from None
    total = sum(h.nbytes for h in headers)
    if total > SMOKE_INPUT_BYTES.value():
        sizes = ", ".join(f"'{h.name}' {list(h.shape)} {h.descr}" for h in headers)
        raise ValueError(
            f"its arrays hold {total:,} bytes once decompressed ({sizes}), over the limit on "
            f"{SMOKE_INPUT_BYTES.bounds}; {SMOKE_INPUT_BYTES.hint()}"
        )
    return headers


def _header(name: str, member: Any) -> NpyHeader:
    where = f"member '{name}'"
    if member.read(len(_MAGIC)) != _MAGIC:
        raise ValueError(f"{where} is not a .npy array")
    version = member.read(2)
    if len(version) != 2 or version[0] not in (1, 2, 3):
        raise ValueError(f"{where} has an unknown .npy format version")
    width = "<H" if version[0] == 1 else "<I"
    length_bytes = member.read(struct.calcsize(width))
    if len(length_bytes) != struct.calcsize(width):
        raise ValueError(f"{where} is truncated")
    (length,) = struct.unpack(width, length_bytes)
    if length > _MAX_HEADER:
        raise ValueError(f"{where} has a {length:,}-byte header (at most {_MAX_HEADER:,})")
    text = member.read(length).decode("utf-8" if version[0] == 3 else "latin1")
    try:
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ValueError(f"{where} has an unreadable header") from None
    return _checked(name, header)


def _checked(name: str, header: Any) -> NpyHeader:
    where = f"member '{name}'"
    if not isinstance(header, dict) or not {"descr", "shape"} <= set(header):
        raise ValueError(f"{where} has an unreadable header")
    descr, shape = header["descr"], header["shape"]
    if not isinstance(descr, str):
        raise ValueError(f"{where} is a structured array; give one plain array per input")
    match = _DESCR.fullmatch(descr)
    if match is None:
        raise ValueError(f"{where} has an unknown dtype {descr!r}")
    if match["kind"] == "O":
        raise ValueError(
            f"{where} is an object array, which only unpickling can load; pickled data is "
            "never loaded. Save strings as a fixed-width array (numpy dtype 'U' or 'S')"
        )
    if (
        not isinstance(shape, tuple)
        or len(shape) > MAX_RANK
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise ValueError(f"{where} has an invalid shape {shape!r}")
    size = int(match["size"] or 1)
    itemsize = size * 4 if match["kind"] == "U" else size
    return NpyHeader(name, descr, tuple(shape), itemsize)


def parse_json_inputs(raw: bytes) -> dict[str, Any]:
    """The inputs of a .json file by name, each checked for depth, with the value count of
    all of them bounded by MODELSTACK_MAX_SMOKE_INPUT_VALUES."""
    try:
        data: Any = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ValueError(
            f"the JSON is nested too deeply (a tensor has at most {MAX_RANK} dimensions)"
        ) from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not UTF-8 text (byte offset {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise ValueError("a JSON inputs file must map input names to nested lists")
    check_value_count(sum(count_values(value) for value in data.values()))
    return data


def count_values(data: Any) -> int:
    """How many scalars a nested list holds, without recursion; ValueError past MAX_RANK."""
    count = 0
    stack = [(data, 0)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, list):
            count += 1
            continue
        if depth >= MAX_RANK:
            raise ValueError(
                f"the values are nested more than {MAX_RANK} levels deep (a tensor has at most "
                f"{MAX_RANK} dimensions)"
            )
        stack.extend((child, depth + 1) for child in item)
    return count


def check_value_count(count: int) -> None:
    """ValueError when one smoke test's inputs hold more values than the setting allows."""
    if count > SMOKE_INPUT_VALUES.value():
        raise ValueError(
            f"the inputs hold {count:,} values, over the limit on {SMOKE_INPUT_VALUES.bounds}; "
            f"{SMOKE_INPUT_VALUES.hint()}"
        )
