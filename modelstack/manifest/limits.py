"""Size limits on untrusted input files, as named settings with safe defaults.

Each limit is read from its environment variable when it is used, so a CI job can raise one
without a code change; every refusal names the variable to raise.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from modelstack.errors import UsageError

__all__ = [
    "ALL_LIMITS",
    "HISTORY_BYTES",
    "INPUTS_FILE_BYTES",
    "MANIFEST_BYTES",
    "MODEL_BYTES",
    "SMOKE_INPUT_BYTES",
    "SMOKE_INPUT_VALUES",
    "STATE_BYTES",
    "Limit",
]


@dataclass(frozen=True)
class Limit:
    """One limit: the environment variable that sets it, its default and what it bounds."""

    setting: str
    default: int
    bounds: str

    def value(self) -> int:
        """The limit in force: the environment variable when set, else the default."""
        raw = os.environ.get(self.setting, "")
        if not raw.strip():
            return self.default  # int() below allows the white space it knows, and no other
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = -1
        if value < 1:
            raise UsageError(f"{self.setting}={raw!r} is not a positive whole number")
        return value

    def hint(self) -> str:
        """How to allow more, for the end of an error message."""
        return f"set {self.setting} to a larger number (now {self.value():,}) to allow more"


MANIFEST_BYTES = Limit(
    "MODELSTACK_MAX_MANIFEST_BYTES", 1024 * 1024, "the size of a manifest file in bytes"
)
MODEL_BYTES = Limit(
    "MODELSTACK_MAX_MODEL_BYTES",
    2 * 1024**3,
    "the size of the ONNX model file in bytes (protobuf's own ceiling is 2 GiB; weights beyond "
    "it belong in external data files)",
)
INPUTS_FILE_BYTES = Limit(
    "MODELSTACK_MAX_INPUTS_FILE_BYTES",
    64 * 1024 * 1024,
    "the size of a smoke test's .npz or .json inputs file on disk in bytes",
)
SMOKE_INPUT_BYTES = Limit(
    "MODELSTACK_MAX_SMOKE_INPUT_BYTES",
    256 * 1024 * 1024,
    "the decompressed size of the arrays in one .npz inputs file in bytes",
)
SMOKE_INPUT_VALUES = Limit(
    "MODELSTACK_MAX_SMOKE_INPUT_VALUES",
    16 * 1024 * 1024,
    "the number of values in one smoke test's inline or .json inputs",
)
STATE_BYTES = Limit(
    "MODELSTACK_MAX_STATE_BYTES",
    16 * 1024 * 1024,
    "the size of a deploy state file under .modelstack/state/ in bytes",
)
HISTORY_BYTES = Limit(
    "MODELSTACK_MAX_HISTORY_BYTES",
    256 * 1024 * 1024,
    "the size of the deploy history .modelstack/history.jsonl in bytes",
)

ALL_LIMITS = (
    MANIFEST_BYTES,
    MODEL_BYTES,
    INPUTS_FILE_BYTES,
    SMOKE_INPUT_BYTES,
    SMOKE_INPUT_VALUES,
    STATE_BYTES,
    HISTORY_BYTES,
)
