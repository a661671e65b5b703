"""`modelstack evaluate` end to end on a real (tiny) classifier: gates pass and fail on real
numbers, every report format parses, bad data sets are clear errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pytest
from evalbundle import ACCURACY, classifier_model, inputs_and_labels, sha, write_bundle, write_npz

from modelstack.cli import main
from modelstack.evaluate import evaluate_manifest
from modelstack.manifest import load_manifest
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_passing_gate_exits_0_with_the_real_accuracy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.75}")
    code, out, _ = run(["evaluate", str(manifest), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    assert report["candidate"]["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    assert report["candidate"]["rows"] == 10
    assert report["gates"] == [
        {"metric": "accuracy", "bound": "min", "limit": 0.75, "value": pytest.approx(ACCURACY),
         "baseline": None, "result": "pass", "detail": "0.8 >= 0.75"}
    ]  # fmt: skip


def test_a_failing_gate_exits_1_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.85}")
    code, out, _ = run(["evaluate", str(manifest)], capsys)
    assert code == 1
    assert "FAIL  accuracy min 0.85: 0.8 < 0.85" in out
    assert out.rstrip().endswith("FAILED: a gate failed")


def test_metrics_agree_with_scikit_learn(tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score, log_loss, top_k_accuracy_score

    result = evaluate_manifest(load_manifest(write_bundle(tmp_path)))
    x, labels = inputs_and_labels()
    logits = x @ np.array(
        [[2.0, -1.0, 0.5], [-1.0, 2.0, 0.0], [0.5, 0.0, 2.0], [0.1, 0.2, -0.3]]
    ) + np.array([0.0, 0.1, -0.1])
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1)
    metrics = result.candidate.metrics
    assert metrics["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert metrics["macro_f1"] == pytest.approx(f1_score(labels, predicted, average="macro"))
    assert metrics["log_loss"] == pytest.approx(log_loss(labels, proba), rel=1e-5)
    assert metrics["top_k_accuracy"] == pytest.approx(
        top_k_accuracy_score(labels, proba, k=2, labels=[0, 1, 2])
    )


@pytest.mark.parametrize("fmt", ["junit", "markdown"])
def test_reports_for_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.85}\n    size_mb: {max: 1}")
    code, out, _ = run(["evaluate", str(manifest), "--format", fmt], capsys)
    assert code == 1
    if fmt == "junit":
        suite = ElementTree.fromstring(out.split("?>", 1)[1])
        assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
        failed = [c.get("name") for c in suite if c.find("failure") is not None]
        assert failed == ["accuracy min"]
    else:
        assert "| accuracy | 0.8000 |" in out
        assert "- FAIL  accuracy min 0.85" in out and "- pass  size_mb max 1" in out


def test_a_baseline_model_gives_relative_gates_a_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The baseline predicts class 0 for everything; the model beats it by far.
    (tmp_path / "base.onnx").parent.mkdir(parents=True, exist_ok=True)
    zero = np.zeros((4, 3), dtype=np.float32)
    (tmp_path / "base.onnx").write_bytes(classifier_model(zero))
    extra = f'  baseline: {{path: base.onnx, sha256: "{sha(tmp_path / "base.onnx")}"}}\n'
    manifest = write_bundle(tmp_path, gates="accuracy: {max_drop: 0.0}", extra=extra)
    code, out, _ = run(["evaluate", str(manifest), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["baseline"]["model"] == "base.onnx"
    gate = report["gates"][0]
    assert (
        gate["result"] == "pass" and gate["baseline"] == report["baseline"]["metrics"]["accuracy"]
    )
    assert gate["baseline"] < ACCURACY


def test_relative_gates_without_a_baseline_are_skipped_not_passed_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {max_drop: 0.01}")
    code, out, _ = run(["evaluate", str(manifest)], capsys)
    assert code == 0
    assert "skip  accuracy max_drop 0.01: skipped: no baseline" in out
    assert "gates: 0 passed, 0 failed, 1 skipped" in out


class FakeCountingClient:
    """The runtime's in-process client, counting the requests that went through it."""

    def __init__(self, inner: InProcessClient) -> None:
        self.inner = inner
        self.requests = 0

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        self.requests += 1
        return self.inner.infer(inputs)

    def describe(self) -> str:
        return "counting " + self.inner.describe()

    def close(self) -> None:
        self.inner.close()


def test_any_inference_client_can_be_evaluated(tmp_path: Path) -> None:
    manifest = load_manifest(write_bundle(tmp_path))
    bundle = prepare_local(manifest)
    client = FakeCountingClient(InProcessClient(load_dataplane(bundle.config), manifest.name))
    result = evaluate_manifest(manifest, client=client)
    assert result.candidate.metrics["accuracy"] == pytest.approx(ACCURACY)
    assert client.requests == 3 + 5 + 1  # warm-up and latency runs, then one batch of 10 rows


def test_an_unknown_target_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["evaluate", str(write_bundle(tmp_path)), "--target", "prod"], capsys)
    assert code == 2 and "no target 'prod' (targets: local)" in err


def test_no_evaluation_section_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text[: text.index("evaluation:")])
    code, _, err = run(["evaluate", str(manifest)], capsys)
    assert code == 2 and "has no evaluation section" in err and "Traceback" not in err


def _bad(tmp_path: Path, capsys: pytest.CaptureFixture[str], **arrays: np.ndarray) -> str:
    write_npz(tmp_path / "eval.npz", **arrays)
    code, out, err = run(["evaluate", str(write_bundle(tmp_path))], capsys)
    assert code == 2, out
    assert "Traceback" not in err
    return err


def test_a_data_set_without_a_model_input_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, labels = inputs_and_labels()
    err = _bad(tmp_path, capsys, features=x, label=labels)
    assert "modelstack.yaml:19:7: data set 'rows' (eval.npz)" in err
    assert "'features' is neither a model input nor a labels/reference output" in err


def test_a_data_set_with_the_wrong_row_shape_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, labels = inputs_and_labels()
    err = _bad(tmp_path, capsys, x=x[:, :3], label=labels)
    assert "'x' rows have shape [3]; the model takes [4] per row" in err


def test_labels_out_of_range_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, labels = inputs_and_labels()
    labels[4] = 3
    err = _bad(tmp_path, capsys, x=x, label=labels)
    assert "label 3 in row 4 is out of range (class indexes 0..2)" in err


def test_a_sha256_mismatch_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = write_bundle(tmp_path, data_sha="0" * 64)
    code, _, err = run(["evaluate", str(manifest)], capsys)
    assert code == 2 and "sha256 mismatch for 'eval.npz': the manifest pins 0000" in err


def test_an_oversize_data_set_names_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, extra="  max_bytes: 100\n")
    code, _, err = run(["evaluate", str(manifest)], capsys)
    assert code == 2
    assert "more than evaluation.max_bytes (100); raise evaluation.max_bytes" in err


def test_too_many_rows_names_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, extra="  max_rows: 9\n")
    code, _, err = run(["evaluate", str(manifest)], capsys)
    assert code == 2 and "10 rows, more than evaluation.max_rows (9)" in err


def test_against_a_running_endpoint_gives_the_in_process_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelstack_runtime.http_server import RuntimeServer

    manifest = write_bundle(tmp_path)
    bundle = prepare_local(load_manifest(manifest))
    server = RuntimeServer(bundle.config)  # the image's HTTP runtime, on a free port
    server.start()
    server.load()
    try:
        text = manifest.read_text().replace(
            "    provider: local\n", f"    provider: local\n    port: {server.port}\n"
        )
        manifest.write_text(text)
        code, out, err = run(["evaluate", str(manifest), "--against", "local", "--format", "json"],
                             capsys)  # fmt: skip
    finally:
        server.stop(grace_s=5.0)
    report = json.loads(out)
    assert code == 0, err
    assert report["target"] == "local"
    assert report["candidate"]["metrics"]["accuracy"] == pytest.approx(ACCURACY)


def test_against_an_endpoint_that_is_not_there_is_an_infrastructure_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    manifest = write_bundle(tmp_path)
    manifest.write_text(
        manifest.read_text().replace(
            "    provider: local\n", f"    provider: local\n    port: {port}\n"
        )
    )
    code, _, err = run(["evaluate", str(manifest), "--against", "local"], capsys)
    assert code == 3
    assert f"nothing ready answers at http://127.0.0.1:{port}; deploy it with `modelstack up" in err


def test_output_writes_the_report_and_prints_the_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path / "bundle")
    report = tmp_path / "evaluation.xml"
    code, out, _ = run(
        ["evaluate", str(manifest), "--format", "junit", "--output", str(report)], capsys
    )
    assert code == 0
    suite = ElementTree.fromstring(report.read_text().split("?>", 1)[1])
    assert suite.get("failures") == "0" and suite.get("tests") == "1"
    assert "accuracy" in out and "PASSED" in out


def test_a_recorded_result_serves_as_the_baseline(tmp_path: Path) -> None:
    from modelstack.evaluate import ModelScores

    manifest = load_manifest(write_bundle(tmp_path, gates="accuracy: {max_drop: 0.05}"))
    first = evaluate_manifest(manifest)
    record = json.loads(json.dumps(first.to_dict()))["candidate"]  # as stored in a JSON file
    recorded = ModelScores.from_dict(record)
    assert recorded == first.candidate
    better = ModelScores.from_dict({**record, "metrics": {**record["metrics"], "accuracy": 0.9}})
    result = evaluate_manifest(manifest, baseline=better)  # the stable release scored 0.9
    (gate,) = result.gates
    assert (gate.verdict, gate.baseline) == ("FAIL", 0.9)
    assert "worse by 0.1" in gate.detail


@pytest.mark.parametrize(
    ("rows", "message"),
    [((0, 0), "the data set has no rows"), ((10, 9), "the same number of rows (first axis)")],
)
def test_empty_or_ragged_data_sets_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: tuple[int, int], message: str
) -> None:
    x, labels = inputs_and_labels()
    err = _bad(tmp_path, capsys, x=x[: rows[0]], label=labels[: rows[1]])
    assert message in err


def test_against_a_lambda_flavour_that_is_not_deployed_says_how_to_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelstack.image.containers import free_port

    port = free_port()
    manifest = write_bundle(tmp_path)
    target = f"    provider: local\n    flavour: lambda\n    port: {port}\n"
    manifest.write_text(manifest.read_text().replace("    provider: local\n", target))
    code, _, err = run(["evaluate", str(manifest), "--against", "local"], capsys)
    assert code == 3
    assert f"no Invoke API listens at http://127.0.0.1:{port}; deploy it with" in err


def test_stack_is_refused_with_a_local_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path)
    code, _, err = run(["evaluate", str(manifest), "--against", "local", "--stack", "x"], capsys)
    assert code == 2
    assert "--stack and --backend are for cloud targets" in err
