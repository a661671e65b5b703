"""`modelstack evaluate` of a routed manifest: the cascade of two real (tiny) ONNX models on a
constructed data set whose answer is known row by row.

The entry's model answers probabilities = its input (so each row's confidence is chosen), the
tier's answers them reversed. Six rows are confident (max >= 0.8) and labelled with the entry's
answer; four are uncertain (max < 0.8) and labelled with the tier's. So the entry alone scores
0.6, the tier alone 0.4, and the cascade at max_prob_below 0.8 exactly 1.0 with 4 rows
escalated; every other threshold moves a known set of rows.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.errors import UsageError
from modelstack.manifest import load_manifest
from modelstack.routing.cascade_eval_cost import unit_cost
from modelstack.routing.cascade_eval_sweep import MAX_SWEEP_POINTS, parse_sweep
from modelstack.routing.spec import ESCALATE_CONDITIONS

CONFIDENT = [[0.875, 0.125], [0.125, 0.875], [0.9375, 0.0625], [0.8125, 0.1875],
             [0.0625, 0.9375], [0.1875, 0.8125]]  # fmt: skip
UNCERTAIN = [[0.5625, 0.4375], [0.375, 0.625], [0.6875, 0.3125], [0.28125, 0.71875]]
X = np.array(CONFIDENT + UNCERTAIN, dtype=np.float32)
LABELS = np.concatenate([X[:6].argmax(axis=1), X[6:].argmin(axis=1)]).astype(np.int64)
SWEEP = {  # threshold -> (rows escalated, accuracy)
    0.5: (0, 0.6), 0.55: (0, 0.6), 0.6: (1, 0.7), 0.65: (2, 0.8), 0.7: (3, 0.9),
    0.75: (4, 1.0), 0.8: (4, 1.0), 0.85: (6, 0.8), 0.9: (8, 0.6), 0.95: (10, 0.4),
}  # fmt: skip


def model(reverse: bool) -> bytes:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])
    probabilities = helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])
    label = helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])
    order = numpy_helper.from_array(np.array([1, 0] if reverse else [0, 1], np.int64), "order")
    nodes = [
        helper.make_node("Gather", ["x", "order"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(nodes, "g", [x], [label, probabilities], [order])
    built = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(built)
    return bytes(built.SerializeToString())


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def write_manifest(root: Path, name: str, reverse: bool, extra: str, duration_ms: int) -> Path:
    root.mkdir(parents=True)
    (root / "model.onnx").write_bytes(model(reverse))
    manifest = root / "modelstack.yaml"
    manifest.write_text(
        f"""\
apiVersion: modelstack.dev/v1
kind: ModelService
metadata: {{name: {name}, version: 1.0.0}}
model: {{path: model.onnx, sha256: {sha(root / "model.onnx")}}}
targets:
  local: {{provider: local}}
  prod: {{provider: aws-lambda, region: eu-west-1, memory_mb: 1024}}
traffic: {{requests_per_month: 1000000, duration_ms: {duration_ms}}}
{extra}""",
        encoding="utf-8",
    )
    return manifest


@pytest.fixture
def cascade(tmp_path: Path) -> Path:
    """The entry manifest (small, routed to large at max_prob_below 0.8)."""
    write_manifest(tmp_path / "large", "large", True, "", duration_ms=200)
    write_npz(tmp_path / "small.npz", x=X, label=LABELS)
    evaluation = f"""\
evaluation:
  task: classification
  labels: label
  scores: probabilities
  top_k: 1
  latency_runs: 5
  datasets: [{{name: rows, path: rows.npz, sha256: "{sha(tmp_path / "small.npz")}"}}]
  gates: {{accuracy: {{min: 0.95}}, p50_ms: {{max: 1000}}}}
routing:
  tiers:
    large: {{to: ../large/modelstack.yaml#prod, timeout_ms: 2000}}
  escalate:
    - {{to: large, output: probabilities, when: {{max_prob_below: 0.8}}}}
"""
    manifest = write_manifest(tmp_path / "small", "small", False, evaluation, duration_ms=20)
    (tmp_path / "small.npz").rename(tmp_path / "small" / "rows.npz")
    return manifest


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def unit_costs(manifest: Path) -> tuple[float, float]:
    small = load_manifest(manifest)
    large = load_manifest(manifest.parent.parent / "large" / "modelstack.yaml")
    own = unit_cost("small", small, small.targets["prod"], 1e6).usd
    tier = unit_cost("large", large, large.targets["prod"], 1e6).usd
    assert own is not None and tier is not None
    return own, tier


def test_the_declared_cascade_answers_every_row_right(
    cascade: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["evaluate", str(cascade), "--target", "prod", "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 0 and report["passed"] is True
    point = report["cascade"]
    assert point["rows"] == 10 and point["escalated"] == 4
    assert point["escalation_rate"] == pytest.approx(0.4)
    assert point["answered"] == {"self": 6, "large": 4}
    assert point["metrics"]["accuracy"] == pytest.approx(1.0)
    assert report["baseline"]["metrics"]["accuracy"] == pytest.approx(0.4)
    own, tier = unit_costs(cascade)
    assert tier > own > 0  # 200 ms against 20 ms on the same memory
    assert point["cost_per_1k_usd"] == pytest.approx(1000 * (own + 0.4 * tier))
    gates = {(g["metric"], g["result"]) for g in report["gates"]}
    assert gates == {("accuracy", "pass"), ("p50_ms", "skip")}


def test_a_failing_gate_on_the_cascade_exits_1(
    cascade: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = cascade.read_text(encoding="utf-8").replace("max_prob_below: 0.8", "max_prob_below: 0.6")
    cascade.write_text(text, encoding="utf-8")
    code, out, _ = run(["evaluate", str(cascade), "--format", "json"], capsys)
    report = json.loads(out)
    assert code == 1 and report["passed"] is False
    assert report["cascade"]["escalated"] == 1
    assert report["cascade"]["metrics"]["accuracy"] == pytest.approx(0.7)
    own, tier = unit_costs(cascade)  # the only cloud target is priced without --target
    assert report["cascade"]["cost_per_1k_usd"] == pytest.approx(1000 * (own + 0.1 * tier))
    assert [g["result"] for g in report["gates"] if g["metric"] == "accuracy"] == ["FAIL"]


def test_the_sweep_moves_exactly_the_known_rows(
    cascade: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(cascade), "-t", "prod", "--sweep", "max_prob_below=0.5:0.95",
            "--format", "json"]  # fmt: skip
    code, out, _ = run(argv, capsys)
    sweep = json.loads(out)["sweep"]
    assert code == 0 and sweep["condition"] == "max_prob_below"
    found = {p["threshold"]: (p["escalated"], p["metrics"]["accuracy"]) for p in sweep["points"]}
    assert list(found) == pytest.approx(list(SWEEP))
    for (escalated, accuracy), (want_escalated, want_accuracy) in zip(
        found.values(), SWEEP.values(), strict=True
    ):
        assert escalated == want_escalated and accuracy == pytest.approx(want_accuracy)
    own, tier = unit_costs(cascade)
    costs = [p["cost_per_1k_usd"] for p in sweep["points"]]
    assert costs == pytest.approx([1000 * (own + e / 10 * tier) for e, _ in SWEEP.values()])


def test_the_sweep_table_in_text(cascade: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["evaluate", str(cascade), "-t", "prod", "--sweep", "max_prob_below=0.6:0.8:0.1"]
    code, out, _ = run(argv, capsys)
    assert code == 0
    table = out.split("sweep of max_prob_below (first escalation rule):\n")[1].splitlines()
    assert table[0].split() == ["threshold", "accuracy", "escalation", "rate", "cost/1k"]
    rows = [line.split()[:3] for line in table[1:4]]
    assert rows == [["0.6", "0.7000", "0.1000"], ["0.7", "0.9000", "0.3000"],
                    ["0.8", "1.0000", "0.4000"]]  # fmt: skip
    assert out.rstrip().endswith("PASSED")


def test_sweep_without_routing_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_manifest(tmp_path / "plain", "plain", False, "", duration_ms=20)
    code, _, err = run(["evaluate", str(manifest), "--sweep", "max_prob_below=0.5:0.9"], capsys)
    assert code == 2 and "--sweep evaluates a cascade" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_prob_below", "expected CONDITION=START:STOP"),
        ("confidence=0.5:0.9", "'confidence' is not an escalation condition"),
        ("max_prob_below=0.5", "expected CONDITION=START:STOP"),
        ("max_prob_below=a:0.9", "START 'a' is not a number"),
        ("max_prob_below=0.9:0.5", "STOP must not be below START"),
        ("max_prob_below=0.5:0.9:0", "STEP must be above 0"),
        ("max_prob_below=0:1:0.0001", f"more than {MAX_SWEEP_POINTS}"),
        ("max_prob_below=nan:1", "finite"),
    ],
)
def test_bad_sweeps_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_sweep(text, ESCALATE_CONDITIONS)


@given(
    start=st.floats(-10, 10),
    count=st.integers(1, 200),
    step=st.floats(0.001, 1.0),
    condition=st.sampled_from(ESCALATE_CONDITIONS),
)
def test_a_sweep_covers_start_to_stop_in_steps(
    start: float, count: int, step: float, condition: str
) -> None:
    stop = start + (count - 1) * step
    sweep = parse_sweep(f"{condition}={start!r}:{stop!r}:{step!r}", ESCALATE_CONDITIONS)
    assert sweep.condition == condition
    assert len(sweep.thresholds) in (count - 1, count, count + 1) and sweep.thresholds
    assert sweep.thresholds[0] == pytest.approx(start, abs=1e-9)
    assert all(t <= stop + 1e-6 for t in sweep.thresholds)
    gaps = np.diff(sweep.thresholds)
    assert np.allclose(gaps, step, atol=1e-6)


@given(text=st.text(max_size=40))
def test_any_text_is_a_sweep_or_a_usage_error(text: str) -> None:
    try:
        sweep = parse_sweep(text, ESCALATE_CONDITIONS)
    except UsageError as exc:
        assert str(exc).startswith("--sweep")
    else:
        assert 1 <= len(sweep.thresholds) <= MAX_SWEEP_POINTS


def test_the_sweep_may_try_another_condition(
    cascade: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(cascade), "--sweep", "margin_below=0.3:0.5:0.2", "--format", "json"]
    code, out, _ = run(argv, capsys)
    assert code == 0  # the declared rule's gates decide the exit code
    points = json.loads(out)["sweep"]["points"]
    # margins: confident rows 0.625 or more, uncertain rows 0.125, 0.25, 0.375, 0.4375
    assert [(p["threshold"], p["escalated"]) for p in points] == [(0.3, 2), (0.5, 4)]
    assert [p["metrics"]["accuracy"] for p in points] == pytest.approx([0.8, 1.0])


def test_the_cascade_decides_with_the_runtimes_own_function(
    cascade: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import modelstack_runtime.routing

    seen: list[tuple[str, float, list[list[float]]]] = []

    def recording(condition: str, threshold: float, output: np.ndarray) -> bool:
        seen.append((condition, threshold, np.asarray(output).tolist()))
        return True

    monkeypatch.setattr(modelstack_runtime.routing, "should_escalate", recording)
    code, out, _ = run(["evaluate", str(cascade), "--format", "json"], capsys)
    assert code == 1  # every row escalated: the tier alone scores 0.4, below the gate
    assert json.loads(out)["cascade"]["escalated"] == 10
    assert seen[0] == ("max_prob_below", 0.8, [CONFIDENT[0]])  # one row at a time
    assert len(seen) == 10


def test_a_rule_that_does_not_hold_ends_the_cascade_as_in_the_runtime(
    cascade: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = "    - {to: large, output: probabilities, when: {max_prob_below: 0.99}}\n"
    cascade.write_text(cascade.read_text(encoding="utf-8") + second, encoding="utf-8")
    code, out, _ = run(["evaluate", str(cascade), "--format", "json"], capsys)
    point = json.loads(out)["cascade"]
    # The confident rows stop at the first rule, though they meet the second on their own.
    assert code == 0 and point["answered"] == {"self": 6, "large": 4}
    own, tier = unit_costs(cascade)  # the four pay two hops each to the tier
    assert point["cost_per_1k_usd"] == pytest.approx(1000 * (own + 0.8 * tier))
