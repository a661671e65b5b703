"""Bounded, pickle-free reading of `.npz` data sets: each member's header is checked first.

A member is loaded only after its `.npy` header says it holds a plain numeric or boolean array
whose size fits the limit; object arrays (which need pickle) are refused without being read.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
from numpy.lib import format as npy

__all__ = ["read_npz"]

_READERS = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}


def _header(member: IO[bytes], name: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    try:
        version = npy.read_magic(member)
    except ValueError:
        raise ValueError(f"member '{name}' is not a .npy array") from None
    reader = _READERS.get(version)
    if reader is None:
        raise ValueError(f"member '{name}' uses .npy format {version}; save it with numpy.savez")
    shape, _, dtype = reader(member)
    return tuple(int(d) for d in shape), dtype


def _check(name: str, shape: tuple[int, ...], dtype: np.dtype[Any], max_bytes: int) -> None:
    if dtype.hasobject or dtype.kind not in "biuf":
        raise ValueError(
            f"member '{name}' has dtype {dtype}; data sets hold numbers or booleans only "
            "(object arrays would need pickle, which is refused)"
        )
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes > max_bytes:
        raise ValueError(
            f"member '{name}' holds {nbytes:,} bytes, more than evaluation.max_bytes "
            f"({max_bytes:,}); raise evaluation.max_bytes or use a smaller data set"
        )


def read_npz(path: Path, max_bytes: int) -> dict[str, np.ndarray]:
    """Every member of the archive by name (without `.npy`), each checked before loading."""
    arrays: dict[str, np.ndarray] = {}
    try:
        with path.open("rb") as handle, zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > max_bytes:
                raise ValueError(
                    f"the archive unpacks to {total:,} bytes, more than evaluation.max_bytes "
                    f"({max_bytes:,}); raise evaluation.max_bytes or use a smaller data set"
                )
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"member '{info.filename}' is not a .npy array")
                name = info.filename[: -len(".npy")]
                with archive.open(info) as member:
                    shape, dtype = _header(member, name)
                    _check(name, shape, dtype, max_bytes)
                with archive.open(info) as member:
                    arrays[name] = npy.read_array(member, allow_pickle=False)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"not a readable .npz archive ({exc})") from None
    return arrays
