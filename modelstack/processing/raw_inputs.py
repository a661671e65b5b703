"""Raw smoke-test and evaluation inputs: a bundle file sent whole as one BYTES element."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from modelstack.errors import ModelError, SmokeTestError
from modelstack.modelfile import resolve_in_bundle
from modelstack.smoke.inputs_file import read_inputs_file

__all__ = ["file_input", "holds_raw_bytes"]


def file_input(bundle: Path, relative: str, where: str) -> np.ndarray:
    """The file's bytes as a BYTES tensor of shape [1] (bounded like an inputs file)."""
    try:
        path = resolve_in_bundle(bundle, relative, what="input file")
        data = read_inputs_file(path)
    except ModelError as exc:
        raise SmokeTestError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise SmokeTestError(f"{where}: cannot read {relative}: {exc}") from None
    array = np.empty(1, dtype=object)
    array[0] = data
    return array


def holds_raw_bytes(inputs: Mapping[str, np.ndarray]) -> bool:
    """True when an input holds bytes that are not UTF-8 (an encoded image): JSON cannot carry
    them, so the request must use the binary tensor data extension."""
    for array in inputs.values():
        if array.dtype != object:
            continue
        for item in array.ravel():
            if isinstance(item, bytes):
                try:
                    item.decode("utf-8")
                except UnicodeDecodeError:
                    return True
    return False
