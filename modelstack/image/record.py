"""The build record: `.modelstack/builds/<name>-<target>.json` beside the manifest.

It says which image a build produced and, after `--push`, the digest reference that deploys
it; `modelstack up` and people read it. Written atomically (temporary file, then rename).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from modelstack.atomic_write import write_atomically

__all__ = ["BUILDS_DIR", "BuildRecord", "record_path", "write_record"]

BUILDS_DIR: Final = Path(".modelstack") / "builds"


@dataclass(frozen=True)
class BuildRecord:
    model: str
    version: str
    target: str
    flavour: str
    tag: str
    image_id: str
    size_bytes: int
    built: bool
    build_seconds: float
    cold_start_seconds: float | None
    smoke_passed: bool
    reference: str | None
    """`repository@sha256:...` once pushed, else None."""
    digest: str | None
    finished_at: str
    """UTC time, ISO 8601."""
    packed_model_sha256: str | None = None
    """The digest of the packed model in the image (the manifest's sha256 names the shipped one)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_path(directory: Path, model: str, target: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{model}-{target}")
    return directory / BUILDS_DIR / f"{safe}.json"


def write_record(directory: Path, record: BuildRecord) -> Path:
    """Write `record` under `directory`; returns the file's path."""
    path = record_path(directory, record.model, record.target)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True) + "\n"
    write_atomically(path, text)
    return path
