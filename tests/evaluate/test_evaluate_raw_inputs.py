"""Evaluation with raw inputs: image files named in a .jsonl, label names as the truth."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from example_copies import copy_example
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.errors import DatasetError, EvaluationError
from modelstack.evaluate import evaluate_manifest
from modelstack.evaluate.tabular import FileRef, parse_jsonl
from modelstack.manifest import load_manifest
from modelstack.smoke.local import prepare_local
from modelstack_runtime import decode_response, encode_binary_request, load_dataplane

NAME = "catalog-tagging"
DATA = "eval/held-out.jsonl"


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return copy_example(NAME, tmp_path / "catalog") / "modelstack.yaml"


def rows(manifest: Path) -> list[dict[str, object]]:
    text = (manifest.parent / DATA).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def served_top_label(manifest: Path, file: str) -> str:
    """The top label the runtime answers for one image, one binary request."""
    plane = load_dataplane(prepare_local(load_manifest(manifest)).config)
    array = np.empty(1, dtype=object)
    array[0] = (manifest.parent / file).read_bytes()
    body, length = encode_binary_request({"image": array}, binary_outputs=False)
    payload, _ = plane.infer(NAME, body, length, "application/octet-stream")
    return str(decode_response(payload)["labels"][0, 0].decode())


def use_data(manifest: Path, lines: list[dict[str, object]], extra: str = "") -> None:
    """Replace the example's data set with `lines`, pinned by its new sha256."""
    data = manifest.parent / DATA
    data.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    text = manifest.read_text(encoding="utf-8")
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    text = re.sub(r"sha256: 885d[0-9a-f]*", f"sha256: {digest}", text)
    manifest.write_text(text.replace("\n  top_k: 3\n", f"\n  top_k: 3\n{extra}"), encoding="utf-8")


def test_the_example_meets_its_gates_on_held_out_images(catalog: Path) -> None:
    result = evaluate_manifest(load_manifest(catalog))
    assert result.passed and result.candidate.rows == 150
    assert 0.85 <= result.candidate.metrics["accuracy"] < 1.0
    assert result.candidate.metrics["top_k_accuracy"] >= result.candidate.metrics["accuracy"]


def test_accuracy_is_the_share_of_rows_whose_top_label_is_the_named_class(
    catalog: Path,
) -> None:
    lines = rows(catalog)[:12]
    lines[1]["labels"] = "nine" if lines[1]["labels"] != "nine" else "eight"  # made wrong
    lines[4]["labels"] = "zero" if lines[4]["labels"] != "zero" else "one"
    use_data(catalog, lines)
    right = [served_top_label(catalog, str(line["image"]["file"])) == line["labels"]  # type: ignore[index]
             for line in lines]  # fmt: skip
    metrics = evaluate_manifest(load_manifest(catalog)).candidate.metrics
    assert metrics["accuracy"] == pytest.approx(sum(right) / len(lines))
    assert not right[1] and not right[4]


def test_the_cli_evaluates_a_raw_input_data_set(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", str(catalog), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["candidate"]["rows"] == 150


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ({"file": "../outside.png"}, "line 1: 'image' file '../outside.png'"),
        ({"file": "eval/none.png"}, "does not exist"),
        ({"path": "eval/000.png"}, 'the only one allowed is {"file"'),
        (3, "'image' holds numbers; the model takes BYTES"),
    ],
    ids=["outside", "missing", "wrong-key", "number"],
)
def test_a_bad_file_reference_names_the_line_and_the_problem(
    catalog: Path, image: object, message: str
) -> None:
    (catalog.parent.parent / "outside.png").write_bytes(b"\x89PNG")
    use_data(catalog, [{"image": image, "labels": "six"}])
    with pytest.raises(DatasetError) as info:
        evaluate_manifest(load_manifest(catalog))
    assert message in str(info.value) and "held-out" in str(info.value)


def test_the_files_count_against_evaluation_max_bytes(catalog: Path) -> None:
    use_data(catalog, rows(catalog)[:20], extra="  max_bytes: 4000\n")
    with pytest.raises(DatasetError, match=r"add up to more than evaluation\.max_bytes"):
        evaluate_manifest(load_manifest(catalog))


def test_a_bad_data_set_exits_2_naming_the_manifest_line(
    catalog: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_data(catalog, [{"image": {"file": "eval/none.png"}, "labels": "six"}])
    assert main(["evaluate", str(catalog)]) == 2
    assert "modelstack.yaml:" in capsys.readouterr().err


def test_log_loss_is_refused_for_label_names(catalog: Path) -> None:
    text = catalog.read_text(encoding="utf-8")
    catalog.write_text(text.replace("top_k_accuracy]", "log_loss]"), encoding="utf-8")
    with pytest.raises(EvaluationError, match=r"leave log_loss out of evaluation\.metrics"):
        evaluate_manifest(load_manifest(catalog))


def test_names_need_an_output_that_answers_names(catalog: Path) -> None:
    model = catalog.parent / "model.onnx"
    catalog.write_text(
        "apiVersion: modelstack.dev/v1\nkind: ModelService\nmetadata: {name: m, version: '1'}\n"
        f"model: {{path: model.onnx, sha256: {hashlib.sha256(model.read_bytes()).hexdigest()}}}\n"
        "targets: {dev: {provider: local}}\n"
        "evaluation:\n  task: classification\n  labels: logits\n  top_k: 3\n"
        "  datasets: [{name: held-out, path: eval/held-out.jsonl,\n"
        "      sha256: 885d}]\n",
        encoding="utf-8",
    )
    use_data(catalog, [{"pixels": [[[0.0] * 8] * 8], "logits": "six"}])
    with pytest.raises(DatasetError, match="must name an output that answers names"):
        evaluate_manifest(load_manifest(catalog))


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1)


@settings(max_examples=60, deadline=None)
@given(
    data=st.lists(st.tuples(names, names, st.booleans()), min_size=1, max_size=20),
)
def test_jsonl_strings_and_file_references_come_back_as_written(
    data: list[tuple[str, str, bool]],
) -> None:
    kind = data[0][2]
    lines = [{"x": {"file": f} if kind else f, "y": label} for f, label, _ in data]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    columns = parse_jsonl(text, max_rows=100)
    expected_x = (
        [FileRef(f, i) for i, (f, _, _) in enumerate(data, 1)] if kind else [f for f, _, _ in data]
    )
    assert columns["x"].tolist() == expected_x
    assert columns["y"].tolist() == [label for _, label, _ in data]


@settings(max_examples=40, deadline=None)
@given(first=st.sampled_from([1.5, "a", {"file": "f"}]), second=st.sampled_from([2, "b"]))
def test_kinds_cannot_mix_within_a_name(first: object, second: object) -> None:
    text = json.dumps({"x": first}) + "\n" + json.dumps({"x": second}) + "\n"
    if isinstance(first, float) == isinstance(second, int) and not isinstance(first, dict):
        assert len(parse_jsonl(text, max_rows=10)["x"]) == 2
        return
    with pytest.raises(ValueError, match="line 2: 'x' mixes kinds of value"):
        parse_jsonl(text, max_rows=10)
