"""The label map file: one class name per line, read bounded from inside the bundle."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from modelstack.errors import ManifestError

__all__ = ["MAX_LABELS", "MAX_LABEL_BYTES", "read_labels"]

MAX_LABEL_BYTES: Final = 1024 * 1024
"""The largest label map file read (1 MiB)."""
MAX_LABELS: Final = 100_000


def read_labels(bundle: Path, relative: str) -> list[str]:
    """The class names of `relative` (line 1 names class 0); refuses a file outside `bundle`,
    over `MAX_LABEL_BYTES`, not UTF-8, with an empty or repeated name."""
    where = f"model.postprocess.labels '{relative}'"
    root = bundle.resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ManifestError(f"{where} leads outside the bundle ({root}); keep it inside")
    if not path.is_file():
        raise ManifestError(f"{where}: no such file in {root}")
    with path.open("rb") as handle:
        data = handle.read(MAX_LABEL_BYTES + 1)
    if len(data) > MAX_LABEL_BYTES:
        raise ManifestError(f"{where} is over {MAX_LABEL_BYTES} bytes; keep one name a line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{where} is not UTF-8 (byte {exc.start}); save it as UTF-8") from None
    names = text.splitlines()
    while names and not names[-1].strip():
        names.pop()
    for line, name in enumerate(names, start=1):
        if not name.strip():
            raise ManifestError(f"{where} line {line} is empty; name every class")
    if not names or len(names) > MAX_LABELS:
        raise ManifestError(f"{where} must name 1 to {MAX_LABELS} classes, names {len(names)}")
    return names
