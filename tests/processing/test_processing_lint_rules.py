"""MS110-MS111 on bundles the golden files do not show: records, escaping label maps."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from modelstack.lint import lint_file

MODEL = Path(__file__).resolve().parents[2] / "examples" / "catalog-tagging" / "model.onnx"
SHA = hashlib.sha256(MODEL.read_bytes()).hexdigest()


def bundle(tmp_path: Path, model_extra: str) -> Path:
    shutil.copyfile(MODEL, tmp_path / "model.onnx")
    path = tmp_path / "modelstack.yaml"
    path.write_text(
        "apiVersion: modelstack.dev/v1\nkind: ModelService\nmetadata: {name: m, version: '1'}\n"
        f"model:\n  path: model.onnx\n  sha256: {SHA}\n{model_extra}"
        "targets: {dev: {provider: local}}\n",
        encoding="utf-8",
    )
    return path


def found(path: Path) -> list[tuple[str, int, str]]:
    return [(d.rule_id, d.line, d.message) for d in lint_file(path)]


def test_a_record_cannot_feed_an_image_input(tmp_path: Path) -> None:
    path = bundle(tmp_path, "  preprocess:\n    record:\n      fields: [{name: a}, {name: b}]\n")
    ((rule, line, message),) = found(path)
    assert (rule, line) == ("MS110", 9)
    assert "gives shape [-1, 2]" in message and "takes [-1, 1, 8, 8]" in message


def test_a_matching_image_step_is_clean(tmp_path: Path) -> None:
    extra = "  preprocess:\n    image: {grayscale: true, resize: {size: [8, 8]}}\n"
    assert found(bundle(tmp_path, extra)) == []


def test_a_label_map_outside_the_bundle_is_reported(tmp_path: Path) -> None:
    (tmp_path / "inner").mkdir()
    (tmp_path / "labels.txt").write_text("a\n", encoding="utf-8")
    shutil.copyfile(MODEL, tmp_path / "inner" / "model.onnx")
    path = bundle(tmp_path / "inner", "  postprocess: {labels: ../labels.txt}\n")
    ((rule, line, message),) = found(path)
    assert (rule, line) == ("MS111", 7) and "leads outside the bundle" in message
