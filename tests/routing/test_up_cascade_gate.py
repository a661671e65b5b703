"""`up`'s evaluation step gates a routed manifest on its cascade, as `evaluate` reports it:
the entry model alone (96.9% on the held-out digits) would fail the example's 0.98 minimum,
the cascade (98.7%) passes it, and a minimum the cascade misses stops the release."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from example_copies import copy_example

from modelstack.deploy.pipeline import evaluate_step
from modelstack.deploy.progress import Progress
from modelstack.errors import GateFailedError
from modelstack.manifest import load_manifest


def _entry(tmp_path: Path, minimum: str | None = None) -> Path:
    root = copy_example("cascade", tmp_path / "cascade")
    path = root / "small" / "modelstack.yaml"
    if minimum is not None:
        text = path.read_text(encoding="utf-8")
        changed = re.sub(r"accuracy: \{min: [0-9.]+", f"accuracy: {{min: {minimum}", text)
        assert changed != text
        path.write_text(changed, encoding="utf-8")
    return path


def test_the_cascade_passes_a_minimum_its_entry_model_alone_would_miss(tmp_path: Path) -> None:
    stream = io.StringIO()
    manifest = load_manifest(str(_entry(tmp_path)))
    assert evaluate_step(manifest, Progress(stream=stream), baseline=None) is None
    out = stream.getvalue()
    assert "gate(s) passed for the cascade" in out
    assert "70 of 450 escalated" in out


def test_a_minimum_the_cascade_misses_stops_the_release(tmp_path: Path) -> None:
    manifest = load_manifest(str(_entry(tmp_path, minimum="0.99")))
    with pytest.raises(GateFailedError, match="cascade's evaluation failed") as failed:
        evaluate_step(manifest, Progress(stream=io.StringIO()), baseline=None)
    assert "accuracy" in str(failed.value)
