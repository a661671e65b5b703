"""Raw smoke-test and evaluation inputs: a bundle file sent whole as one BYTES element.

JSON cannot carry bytes that are not UTF-8; a JSON request (a direct Lambda invocation) sends
such an element in base64, which the runtime's image inputs take in its place.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from modelstack.errors import ModelError, SmokeTestError
from modelstack.modelfile import resolve_in_bundle
from modelstack.smoke.inputs_file import read_inputs_file

if TYPE_CHECKING:  # lint's MS112 reads the file without importing numpy
    import numpy as np

__all__ = ["file_input", "holds_raw_bytes", "in_base64", "json_safe", "read_file_input"]


def file_input(bundle: Path, relative: str, where: str) -> np.ndarray:
    """The file's bytes as a BYTES tensor of shape [1] (bounded like an inputs file)."""
    import numpy as np

    array = np.empty(1, dtype=object)
    array[0] = read_file_input(bundle, relative, where)
    return array


def read_file_input(bundle: Path, relative: str, where: str) -> bytes:
    """The bytes of a smoke test's input `file`, inside the bundle and bounded."""
    try:
        path = resolve_in_bundle(bundle, relative, what="input")
        data = read_inputs_file(path)
    except ModelError as exc:
        raise SmokeTestError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise SmokeTestError(f"{where}: cannot read {relative}: {exc}") from None
    return data


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


def in_base64(array: np.ndarray) -> np.ndarray:
    """`array` (BYTES) with every element in base64."""
    import base64

    import numpy as np

    out = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        out[index] = base64.b64encode(item if isinstance(item, bytes) else str(item).encode())
    return out


def json_safe(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """`inputs` with each tensor JSON cannot carry (raw bytes) in base64."""
    return {
        name: in_base64(array) if holds_raw_bytes({name: array}) else array
        for name, array in inputs.items()
    }
