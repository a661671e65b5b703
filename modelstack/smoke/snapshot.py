"""The smoke tests a release was deployed with, kept beside the deploy state.

`rollback` checks an earlier release against the smoke tests it passed when it was deployed,
not against today's manifest, whose expectations may have moved on with a newer model.
Inputs holding bytes that JSON cannot carry (an encoded image) are kept in base64 and named
under the case's `base64`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modelstack.atomic_write import write_atomically
from modelstack.manifest.model import Manifest, smoke_test_from_dict
from modelstack.processing.raw_inputs import holds_raw_bytes, in_base64
from modelstack.smoke.cases import SmokeCase
from modelstack_runtime.codec import decode_request_object, encode_json_request
from modelstack_runtime.errors import InferenceError

__all__ = ["MAX_SNAPSHOT_BYTES", "load_snapshot", "save_snapshot", "snapshot_path"]

MAX_SNAPSHOT_BYTES = 8 * 1024 * 1024
"""Cases larger than this (big inputs files) are not kept; rollback then uses the manifest's."""


def snapshot_path(state_root: Path, image_id: str) -> Path:
    return state_root / "smoke" / f"{image_id.rpartition(':')[2][:32]}.json"


def save_snapshot(path: Path, manifest: Manifest, cases: list[SmokeCase]) -> bool:
    """Keep `cases` for the release at `path`; False when they are too big to keep."""
    raw_tests = manifest.source.data.get("smoke_tests", [])
    entries = [{"test": raw_tests[case.test.index], **_kept(case.inputs)} for case in cases]
    text = json.dumps({"model": manifest.name, "cases": entries})
    if len(text) > MAX_SNAPSHOT_BYTES:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text)
    return True


def load_snapshot(path: Path) -> list[SmokeCase] | None:
    """The kept cases, or None when none were kept (or the file is not readable)."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
        return [
            SmokeCase(smoke_test_from_dict(index, entry["test"]), _inputs(entry))
            for index, entry in enumerate(data["cases"])
        ]
    except (OSError, ValueError, KeyError, TypeError, InferenceError):
        return None


def _kept(inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    raw = sorted(name for name, array in inputs.items() if holds_raw_bytes({name: array}))
    plain = {name: in_base64(array) if name in raw else array for name, array in inputs.items()}
    return {"request": json.loads(encode_json_request(plain)), "base64": raw}


def _inputs(entry: Mapping[str, Any]) -> dict[str, np.ndarray]:
    inputs = dict(decode_request_object(entry["request"]).inputs)
    for name in entry.get("base64", []):
        decoded = np.empty(inputs[name].shape, dtype=object)
        for index, item in np.ndenumerate(inputs[name]):
            text = item if isinstance(item, bytes) else str(item).encode()
            decoded[index] = base64.b64decode(text, validate=True)
        inputs[name] = decoded
    return inputs
