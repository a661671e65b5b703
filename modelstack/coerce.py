"""Number coercion for the typed manifest: YAML may spell an integer as 1024.0."""

from __future__ import annotations

from typing import Any

__all__ = ["ints"]


def ints(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """`d` with the values under `keys` as int; the schema accepts 1024.0, the model wants int."""
    return {k: (int(v) if k in keys and v is not None else v) for k, v in d.items()}
