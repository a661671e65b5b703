"""The deploy state and history files: hostile or damaged files are refused, never crashed on,
overwritten or allowed to swallow other entries."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.deploy.state import DeployState, StateStore, read_history
from modelstack.errors import DeployStateError


def history_file(bundle: Path) -> Path:
    path = bundle / ".modelstack" / "history.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_lines_that_are_not_objects_are_skipped_and_the_others_kept(
    iris_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [{"target": "local", "event": "up", "version": str(v)} for v in (1, 2)]
    lines = [json.dumps(good[0]), "[1, 2]", '"text"', "42", "null", "{torn", json.dumps(good[1])]
    history_file(iris_bundle).write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert read_history(iris_bundle) == good
    assert [e["version"] for e in StateStore(iris_bundle, "local").history()] == ["1", "2"]
    code = main(["history", str(iris_bundle / "modelstack.yaml"), "--format", "json"])
    assert code == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == good


def test_an_entry_after_a_torn_last_line_is_not_lost(iris_bundle: Path) -> None:
    history_file(iris_bundle).write_text('{"target": "local", "event": "up"}\n{"tar', "utf-8")
    StateStore(iris_bundle, "local").record({"event": "rollback", "version": "3"})
    entries = read_history(iris_bundle)
    assert [e["event"] for e in entries] == ["up", "rollback"]
    assert entries[1]["version"] == "3"


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(
        st.one_of(
            st.dictionaries(st.text(max_size=5), st.integers(), max_size=3).map(json.dumps),
            st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t),
        ),
        max_size=12,
    )
)
def test_read_history_keeps_exactly_the_object_lines(
    lines: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    bundle = tmp_path_factory.mktemp("history")
    history_file(bundle).write_text("\n".join(lines), encoding="utf-8")
    expected = []
    for line in "\n".join(lines).splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            expected.append(value)
    assert read_history(bundle) == expected


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_history_that_is_not_a_regular_file_is_refused(kind: str, iris_bundle: Path) -> None:
    path = history_file(iris_bundle)
    path.mkdir() if kind == "directory" else os.mkfifo(path)
    with pytest.raises(DeployStateError, match="not a regular file; move it out of the way"):
        read_history(iris_bundle)
    with pytest.raises(DeployStateError, match="move it out of the way"):
        StateStore(iris_bundle, "local").record({"event": "up"})


def state_path(bundle: Path) -> Path:
    path = bundle / ".modelstack" / "state" / "local.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def test_a_state_file_that_is_a_directory_is_refused_not_replaced(
    iris_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_path(iris_bundle).mkdir()
    store = StateStore(iris_bundle, "local")
    with pytest.raises(DeployStateError) as info:
        store.load()
    assert info.value.exit_code == 2
    assert "is a directory, not a regular file; move it out of the way" in str(info.value)
    with pytest.raises(DeployStateError):
        store.save(DeployState())
    assert state_path(iris_bundle).is_dir()
    assert main(["status", str(iris_bundle / "modelstack.yaml")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"stable": [1]}', '{"next_version": "x"}']
)
def test_a_damaged_state_file_is_refused_and_kept(text: str, iris_bundle: Path) -> None:
    state_path(iris_bundle).write_text(text, encoding="utf-8")
    store = StateStore(iris_bundle, "local")
    with pytest.raises(DeployStateError, match=r"unreadable .*Restore it from history\.jsonl"):
        store.load()
    with pytest.raises(DeployStateError):
        store.save(DeployState())
    assert state_path(iris_bundle).read_text(encoding="utf-8") == text


def test_a_state_file_over_its_limit_names_the_setting(
    iris_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateStore(iris_bundle, "local")
    store.save(DeployState(next_version=7))
    size = state_path(iris_bundle).stat().st_size
    monkeypatch.setenv("MODELSTACK_MAX_STATE_BYTES", str(size - 1))
    with pytest.raises(DeployStateError, match="MODELSTACK_MAX_STATE_BYTES"):
        store.load()
    monkeypatch.setenv("MODELSTACK_MAX_STATE_BYTES", str(size))
    assert store.load().next_version == 7
