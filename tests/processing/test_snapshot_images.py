"""The smoke tests kept with a release hold raw image files: they come back byte for byte."""

from __future__ import annotations

from pathlib import Path

from modelstack import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack.smoke.snapshot import load_snapshot, save_snapshot


def test_image_smoke_cases_are_kept_and_read_back_unchanged(catalog: Path, tmp_path: Path) -> None:
    manifest = load_manifest(catalog)
    cases = prepare_local(manifest).cases
    path = tmp_path / "smoke" / "release.json"
    assert save_snapshot(path, manifest, cases)
    kept = load_snapshot(path)
    assert kept is not None and [c.test.name for c in kept] == [c.test.name for c in cases]
    for before, after in zip(cases, kept, strict=True):
        assert after.inputs["image"].tolist() == before.inputs["image"].tolist()
        assert before.inputs["image"][0].startswith((b"\x89PNG", b"\xff\xd8"))
