from __future__ import annotations

from pathlib import Path

import numpy as np

from modelstack.manifest import load_manifest
from modelstack.smoke import snapshot
from modelstack.smoke.local import prepare_local

ROOT = Path(__file__).resolve().parents[2]


def test_kept_cases_come_back_equal(tmp_path: Path) -> None:
    manifest = load_manifest(ROOT / "examples" / "digits-gpu" / "modelstack.yaml")
    cases = prepare_local(manifest).cases  # inline inputs and an .npz inputs file
    path = snapshot.snapshot_path(tmp_path, "sha256:" + "ab" * 32)
    assert snapshot.save_snapshot(path, manifest, cases)
    loaded = snapshot.load_snapshot(path)
    assert loaded is not None and [c.name for c in loaded] == [c.name for c in cases]
    for kept, original in zip(loaded, cases, strict=True):
        assert kept.test.expected_outputs == original.test.expected_outputs
        assert kept.test.max_latency_ms == original.test.max_latency_ms
        for name, array in original.inputs.items():
            assert kept.inputs[name].dtype == array.dtype
            np.testing.assert_array_equal(kept.inputs[name], array)


def test_cases_too_large_to_keep_are_not_kept(tmp_path: Path, monkeypatch) -> None:
    manifest = load_manifest(ROOT / "examples" / "iris" / "modelstack.yaml")
    monkeypatch.setattr(snapshot, "MAX_SNAPSHOT_BYTES", 100)
    path = tmp_path / "kept.json"
    assert not snapshot.save_snapshot(path, manifest, prepare_local(manifest).cases)
    assert not path.exists()


def test_a_missing_or_damaged_snapshot_reads_as_none(tmp_path: Path) -> None:
    assert snapshot.load_snapshot(tmp_path / "absent.json") is None
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"cases": [{"test": {"name": "x"}, "request": {"inputs": "no"}}]}')
    assert snapshot.load_snapshot(damaged) is None
