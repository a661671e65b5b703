"""Evaluation as a step of `up`, and its result recorded with the release. Docker is pointed
at a socket that does not exist: a deploy that got past the evaluation would fail at the
engine with exit 3, so exit 1 with the evaluation as the last step proves nothing was built."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from evalbundle import ACCURACY, write_bundle
from hypothesis import given
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.deploy.release import Release
from modelstack.deploy.state import StateStore
from modelstack.errors import DeployStateError

NO_DOCKER = "unix:///nonexistent/docker.sock"


@pytest.fixture(autouse=True)
def _no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER)


def up_json(manifest: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["up", str(manifest), "--target", "local", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def steps(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["step"], s["status"]) for s in summary["steps"]]


def test_a_failing_gate_stops_up_before_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.9}")
    table = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(table))
    code, summary = up_json(manifest, capsys)
    assert code == 1
    assert steps(summary) == [
        ("lint", "ok"), ("local smoke tests", "ok"), ("evaluation", "failed")
    ]  # fmt: skip
    assert summary["evaluation"]["passed"] is False
    assert summary["evaluation"]["candidate"]["metrics"]["accuracy"] == pytest.approx(ACCURACY)
    assert "the evaluation failed; nothing was built" in summary["error"]
    assert "FAIL  accuracy min 0.9: 0.8 < 0.9" in summary["error"]
    markdown = table.read_text()
    assert "| evaluation | ❌ |" in markdown and "Evaluation: accuracy 0.8," in markdown
    state = StateStore(tmp_path, "local").load()
    assert state.stable is None and state.candidate is None


def test_a_manifest_without_evaluation_skips_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path)
    text = manifest.read_text()
    manifest.write_text(text[: text.index("evaluation:")])
    (tmp_path / "eval.npz").unlink()
    code, summary = up_json(manifest, capsys)
    assert code == 3  # it went on to the Docker engine, which is not there
    assert steps(summary)[:3] == [
        ("lint", "ok"), ("local smoke tests", "ok"), ("evaluation", "skipped")
    ]  # fmt: skip
    assert "evaluation" not in summary


def test_max_drop_compares_with_what_the_stable_release_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {min: 0.5, max_drop: 0.05}")
    store = StateStore(tmp_path, "local")
    recorded = {"model": "model.onnx", "size_mb": 0.001, "p50_ms": 0.1, "p99_ms": 0.2,
                "metrics": {"accuracy": 0.9}, "per_dataset": {}, "rows": 10}  # fmt: skip
    stable = Release("3", "sha256:" + "a" * 64, "0.9.0", "m" * 64, "f" * 64, evaluation=recorded)
    store.save(store.load().with_(stable=stable))
    code, summary = up_json(manifest, capsys)
    assert code == 1
    assert steps(summary)[-1] == ("evaluation", "failed")
    gates = {g["bound"]: g for g in summary["evaluation"]["gates"]}
    assert gates["min"]["result"] == "pass"
    assert (gates["max_drop"]["result"], gates["max_drop"]["baseline"]) == ("FAIL", 0.9)
    assert summary["evaluation"]["baseline"]["model"] == "serving version 3"
    # the recorded result has no macro_f1: the table shows it without a baseline value
    assert re.search(r"\nmacro_f1 +- +0\.\d{4} +-\n", summary["error"]), summary["error"]
    assert store.load().stable == stable  # traffic and state untouched


def test_without_a_recorded_result_max_drop_is_skipped_and_up_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {max_drop: 0.05}")
    store = StateStore(tmp_path, "local")
    old = Release("3", "sha256:" + "a" * 64, "0.9.0", "m" * 64, "f" * 64)  # deployed before
    store.save(store.load().with_(stable=old))
    code, summary = up_json(manifest, capsys)
    assert code == 3  # past the evaluation, at the missing Docker engine
    assert ("evaluation", "ok") in steps(summary)
    (gate,) = summary["evaluation"]["gates"]
    assert gate["result"] == "skip"


def test_a_state_file_from_before_evaluations_still_loads(tmp_path: Path) -> None:
    store = StateStore(tmp_path, "local")
    store.state_path.parent.mkdir(parents=True)
    old = {"model_version": "1.0.0", "version": "2", "image": "sha256:" + "b" * 64,
           "model_sha256": "m", "manifest_sha256": "f"}  # fmt: skip
    store.state_path.write_text(json.dumps({"stable": old, "previous": [old], "step": "idle"}))
    state = store.load()
    assert state.stable is not None and state.stable.evaluation is None
    assert state.previous[0].version == "2"


@pytest.mark.parametrize(
    "evaluation",
    [[1, 2], {"metrics": [0.5]}, {"metrics": {"accuracy": "high"}}, {"size_mb": 1},
     {"metrics": {"accuracy": True}}],
)  # fmt: skip
def test_a_damaged_evaluation_record_is_a_clear_state_error(
    tmp_path: Path, evaluation: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path)
    store = StateStore(tmp_path, "local")
    store.state_path.parent.mkdir(parents=True)
    stable = {"version": "2", "image": "sha256:" + "b" * 64, "evaluation": evaluation}
    store.state_path.write_text(json.dumps({"stable": stable}))
    with pytest.raises(DeployStateError, match="evaluation"):
        store.load()
    assert main(["status", str(manifest), "--target", "local"]) == 2
    assert "remove it and run `modelstack up`" in capsys.readouterr().err


def test_a_record_missing_its_numbers_names_the_state_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = write_bundle(tmp_path, gates="accuracy: {max_drop: 0.05}")
    store = StateStore(tmp_path, "local")
    stable = Release("2", "sha256:" + "b" * 64, "1", "m", "f", evaluation={"metrics": {}})
    store.save(store.load().with_(stable=stable))
    assert main(["up", str(manifest), "--target", "local"]) == 2
    err = capsys.readouterr().err
    assert f"the evaluation recorded with version 2 in {store.state_path} is unreadable" in err


JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                               max_size=3),
    max_leaves=10,
)  # fmt: skip


@given(value=JSON | st.fixed_dictionaries({"metrics": st.dictionaries(st.text(max_size=8), JSON)}))
def test_any_recorded_evaluation_loads_or_is_refused_as_a_type_error(value: Any) -> None:
    data = {"version": "1", "image": "x@sha256:" + "1" * 64, "evaluation": value}
    try:
        release = Release.from_dict(data)
    except TypeError:
        return
    assert release.evaluation == (None if value is None else value)
    assert Release.from_dict(json.loads(json.dumps(release.to_dict()))) == release


@given(metrics=st.dictionaries(st.text(min_size=1, max_size=12), st.floats(allow_nan=False)))
def test_recorded_metrics_survive_the_state_file(metrics: dict[str, float]) -> None:
    record = {"model": "m", "size_mb": 1.0, "p50_ms": 1.0, "p99_ms": 2.0, "metrics": metrics}
    release = Release("1", "x@sha256:" + "1" * 64, "1", "m", "f", evaluation=record)
    again = Release.from_dict(json.loads(json.dumps(release.to_dict())))
    assert again.evaluation == record
