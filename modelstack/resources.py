"""Where the files that ship beside the code (schema, Dockerfile templates) are found.

In a wheel they live under `modelstack/_data/`; in a source checkout (editable install) they
are the top-level `schemas/` and `templates/` folders.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["SCHEMA_FILE", "data_path", "load_schema"]

SCHEMA_FILE = "modelstack.v1.schema.json"


def data_path(folder: str, *parts: str) -> Path:
    """The path of a shipped data file, e.g. `data_path("schemas", SCHEMA_FILE)`."""
    package = Path(__file__).resolve().parent
    packaged = package.joinpath("_data", folder, *parts)
    if packaged.exists():
        return packaged
    return package.parent.joinpath(folder, *parts)


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The manifest's JSON schema, parsed once per process."""
    with data_path("schemas", SCHEMA_FILE).open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema
