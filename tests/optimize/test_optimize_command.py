"""`modelstack optimize` end to end on real models: the candidate is adopted only when every
gate passes; otherwise (and with --dry-run) nothing is written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import pytest
from evalbundle import write_bundle
from example_copies import copy_example

from modelstack.cli import main
from modelstack.manifest import load_manifest
from modelstack.modelfile import verify_model

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "digits-mlp"


def files(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def optimize(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["optimize", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dynamic_int8_passing_gates_is_adopted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.7, max_drop: 0.1}")
    before = manifest.read_text()
    code, out, err = optimize([str(manifest), "--method", "dynamic-int8"], capsys)
    assert code == 0, out + err
    assert out.splitlines()[2].split() == ["model.onnx", "model.dynamic-int8.onnx", "change"]
    reloaded = load_manifest(manifest)
    assert reloaded.model.path == "model.dynamic-int8.onnx"
    path, _ = verify_model(tmp_path, reloaded.model.path, reloaded.model.sha256)
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}
    after = manifest.read_text()
    assert (
        after.replace("model.dynamic-int8.onnx", "model.onnx").replace(
            reloaded.model.sha256, load_manifest_sha(before)
        )
        == before
    )  # only the two values changed; the comment after path is still there
    assert "path: model.dynamic-int8.onnx   # the model" in after


def load_manifest_sha(text: str) -> str:
    return next(line.split(": ")[1] for line in text.splitlines() if "sha256: " in line)


def test_a_failing_gate_writes_nothing_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.85}")
    before = files(tmp_path)
    code, out, err = optimize([str(manifest), "--method", "dynamic-int8"], capsys)
    assert code == 1
    assert "FAIL  accuracy min 0.85" in out
    assert "failed a gate; nothing was written" in err
    assert files(tmp_path) == before  # the manifest byte-identical, no new model


def test_dry_run_never_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.7}")
    before = files(tmp_path)
    code, _, err = optimize([str(manifest), "--method", "dynamic-int8", "--dry-run"], capsys)
    assert code == 0 and "dry run" in err
    assert files(tmp_path) == before


@pytest.mark.parametrize("method", ["static-int8", "fp16"])
def test_other_methods_make_a_model_that_is_evaluated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.7}")
    code, out, err = optimize(
        [str(manifest), "--method", method, "--dry-run", "--format", "json"], capsys
    )
    report = json.loads(out)
    assert code == 0, err
    assert report["baseline"]["model"] == "model.onnx"
    assert report["candidate"]["model"] == f"model.{method}.onnx"
    assert report["candidate"]["metrics"]["accuracy"] >= 0.7


def test_an_unknown_calibration_set_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path)
    code, _, err = optimize(
        [str(manifest), "--method", "static-int8", "--calibration", "nope"], capsys
    )
    assert code == 2 and "--calibration 'nope' is not a data set (data sets: rows)" in err


def test_the_example_quantises_to_a_quarter_of_its_size_without_losing_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "digits"
    copy_example("digits-mlp", bundle)
    manifest = bundle / "modelstack.yaml"
    # The latency gate measures this machine; here only size and accuracy decide.
    text = manifest.read_text().replace(
        "p50_ms: {max: 5, min_improvement_pct: 20}", "p50_ms: {max: 1000}"
    )
    manifest.write_text(text)
    code, out, err = optimize(
        [str(manifest), "--method", "dynamic-int8", "--format", "json"], capsys
    )
    report = json.loads(out)
    assert code == 0, err
    original, candidate = report["baseline"], report["candidate"]
    assert candidate["size_mb"] <= 0.3 * original["size_mb"]
    drop = original["metrics"]["accuracy"] - candidate["metrics"]["accuracy"]
    assert drop <= 0.005
    assert load_manifest(manifest).model.path == "model.dynamic-int8.onnx"
