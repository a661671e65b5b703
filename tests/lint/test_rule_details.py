"""Rule behaviour that golden files cannot show well: symlinks, external data, secrets, messages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelstack.lint import LintOptions, lint_file
from modelstack.lint.formatters import FORMATTERS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lint"
WriteBundle = Callable[..., Path]


def found(path: Path, options: LintOptions | None = None) -> list[tuple[str, int, int]]:
    return [(d.rule_id, d.line, d.column) for d in lint_file(path, options)]


def test_the_bundle_fixture_is_clean(write_bundle: WriteBundle) -> None:
    assert lint_file(write_bundle()) == []


def test_model_symlink_out_of_the_bundle(
    write_bundle: WriteBundle, identity_model: bytes, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "model.onnx"
    outside.parent.mkdir()
    outside.write_bytes(identity_model)
    manifest = write_bundle(files={})
    (manifest.parent / "model.onnx").symlink_to(outside)
    (diagnostic,) = lint_file(manifest)
    assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == ("MS101", 7, 9)
    assert "leads outside the manifest's folder through a symlink" in diagnostic.message
    assert str(outside) in diagnostic.message


def test_model_symlink_inside_the_bundle_is_fine(
    write_bundle: WriteBundle, identity_model: bytes
) -> None:
    manifest = write_bundle(files={"models/real.onnx": identity_model})
    (manifest.parent / "model.onnx").symlink_to(manifest.parent / "models" / "real.onnx")
    assert lint_file(manifest) == []


def test_dotdot_that_stays_inside_the_bundle_is_fine(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    (manifest.parent / "sub").mkdir()
    text = manifest.read_text().replace("path: model.onnx", "path: sub/../model.onnx")
    manifest.write_text(text)
    assert lint_file(manifest) == []


def test_sha256_mismatch_shows_both_digests(identity_model: bytes) -> None:
    (diagnostic,) = lint_file(FIXTURES / "MS102_sha256_mismatch" / "modelstack.yaml")
    assert "0123456789abcdef" * 4 in diagnostic.message
    assert hashlib.sha256(identity_model).hexdigest() in diagnostic.message


def external_data_model(directory: Path) -> bytes:
    """y = x @ W with W saved as external data in weights.bin next to the model."""
    import numpy as np

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    weights = numpy_helper.from_array(np.eye(4, dtype=np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "external", [x], [y], [weights]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    path = directory / "model.onnx"
    onnx.save_model(
        model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0
    )
    assert (directory / "weights.bin").stat().st_size == 64
    return path.read_bytes()


def relocate(model: bytes, location: str) -> bytes:
    proto = onnx.load_from_string(model)
    for entry in proto.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = location
    return proto.SerializeToString()


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (None, None),
        ("../outside.bin", "the external data path '../outside.bin' leads outside"),
        ("/etc/passwd", "the external data path '/etc/passwd' must be relative"),
        ("missing.bin", "the external data file 'missing.bin' does not exist"),
    ],
)
def test_external_data_must_stay_in_the_bundle(
    write_bundle: WriteBundle, tmp_path: Path, location: str | None, expected: str | None
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    model = external_data_model(scratch)
    if location is not None:
        model = relocate(model, location)
        (tmp_path / "outside.bin").write_bytes((scratch / "weights.bin").read_bytes())
    files = {"model.onnx": model, "weights.bin": (scratch / "weights.bin").read_bytes()}
    manifest = write_bundle(
        manifest=(FIXTURES / "MS104_external_outside" / "modelstack.yaml")
        .read_text()
        .replace(
            "5feb1061ee151c9567ca93599cfa52824e64483a90a685b0afaa3b6750a70f15",
            hashlib.sha256(model).hexdigest(),
        ),
        files=files,
    )
    diagnostics = lint_file(manifest)
    if expected is None:
        assert diagnostics == []
    else:
        (diagnostic,) = diagnostics
        assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == ("MS104", 7, 9)
        assert diagnostic.message.startswith("tensor 'W': ")
        assert expected in diagnostic.message


SECRETS = (
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
    "hunter2",
    "YWRtaW46aHVudGVyMg",
    "AKIAQWERTYUIOPASDFGH",
    "Zb8kQ2mN4pR6sT1uV3wX5yA7cE9gI0jL2nP4rS6t",
)


@pytest.mark.parametrize("fmt", sorted(FORMATTERS))
def test_secrets_are_never_echoed(fmt: str) -> None:
    diagnostics = lint_file(FIXTURES / "MS501_secrets" / "modelstack.yaml")
    assert {d.rule_id for d in diagnostics} == {"MS501"} and len(diagnostics) == 9
    output = FORMATTERS[fmt](diagnostics, 1)
    for secret in SECRETS:
        assert secret not in output
        assert secret[4:] not in output  # not even most of it
        assert secret[:4] not in output  # nor its start
    assert "rotate it now" in output


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ("      GITHUB_TOKEN: ghp_abcdefghijklmnopqrstuvwxyz0123456789\n", "a GitHub token"),
        ("      API_KEY: plain-value\n", "its key names one: key"),
        ("      KEY: -----BEGIN RSA PRIVATE KEY-----\n", "a private key"),
    ],
)
def test_secret_kinds(write_bundle: WriteBundle, line: str, rule: str) -> None:
    manifest = write_bundle(extra="    environment:\n" + line)
    (diagnostic,) = lint_file(manifest)
    assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == (
        "MS501",
        13,
        line.index(":") + 3,
    )
    assert rule in diagnostic.message


@pytest.mark.parametrize(
    "value",
    [
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
        "projects/p/secrets/db/versions/1",
        "${DB_PASSWORD}",
        "",
    ],
)
def test_secret_references_are_fine(write_bundle: WriteBundle, value: str) -> None:
    manifest = write_bundle(extra=f"    environment:\n      DB_PASSWORD: '{value}'\n")
    assert lint_file(manifest) == []


SMOKE = "smoke_tests:\n  - name: case\n    inputs:\n      x:\n"


@pytest.mark.parametrize(
    ("inputs", "line", "column", "message"),
    [
        ("        data: [['a', 'b', 'c', 'd']]\n", 16, 15, "value 'a' is not a valid FP32 element"),
        ("        data: [[1, 2], [3]]\n", 16, 15, "ragged"),
        ("        data: [1, 2, 3, 4]\n        shape: [2, 4]\n", 17, 16, "4 values cannot fill"),
        ("        data: [1, 2, 3, 4]\n        datatype: INT64\n", 17, 19, "expected datatype FP32"),
    ],
)
def test_smoke_input_problems(
    write_bundle: WriteBundle, inputs: str, line: int, column: int, message: str
) -> None:
    manifest = write_bundle(extra=SMOKE + inputs)
    (diagnostic,) = lint_file(manifest)
    assert (diagnostic.rule_id, diagnostic.line, diagnostic.column) == ("MS201", line, column)
    assert message in diagnostic.message


def test_smoke_input_with_an_explicit_shape_that_fits(write_bundle: WriteBundle) -> None:
    manifest = write_bundle(
        extra=SMOKE + "        data: [1, 2, 3, 4, 5, 6, 7, 8]\n        shape: [2, 4]\n"
    )
    assert lint_file(manifest) == []


def test_without_model_checks_the_declared_signature_is_used(write_bundle: WriteBundle) -> None:
    signature = (
        "  signature:\n"
        "    inputs: [{name: pixels, datatype: FP32, shape: [-1, 2]}]\n"
        "    outputs: [{name: y, datatype: FP32, shape: [-1, 4]}]\n"
    )
    manifest = write_bundle()
    text = manifest.read_text().replace("targets:\n", signature + "targets:\n")
    manifest.write_text(text + SMOKE + "        data: [[1, 2, 3, 4]]\n")
    fast = [(d.rule_id, d.message) for d in lint_file(manifest, LintOptions(model_checks=False))]
    # Without the model, the declared input 'pixels' is the one the smoke test lacks.
    assert ("MS201", "smoke test 'case' is missing input 'pixels'") in fast
    assert all(rule_id in ("MS201",) for rule_id, _ in fast)
    full = {d.rule_id for d in lint_file(manifest)}
    assert "MS105" in full  # with the model, the declaration itself is wrong


def test_no_model_checks_skips_model_rules_but_not_the_path(tmp_path: Path) -> None:
    assert (
        found(
            FIXTURES / "MS102_sha256_mismatch" / "modelstack.yaml", LintOptions(model_checks=False)
        )
        == []
    )
    assert (
        found(FIXTURES / "MS103_not_onnx" / "modelstack.yaml", LintOptions(model_checks=False))
        == []
    )
    assert found(
        FIXTURES / "MS101_missing" / "modelstack.yaml", LintOptions(model_checks=False)
    ) == [("MS101", 7, 9)]


def test_weighted_alias_is_fine_for_all_at_once(write_bundle: WriteBundle) -> None:
    manifest = write_bundle()
    text = manifest.read_text().replace(
        "  dev:\n    provider: local\n",
        "  prod:\n    provider: aws-lambda\n    region: eu-west-1\n"
        "    provisioned_concurrency: {attach_to: alias}\n",
    )
    manifest.write_text(text + "rollout: {strategy: all-at-once}\n")
    assert lint_file(manifest) == []


def test_alias_message_says_how_to_fix() -> None:
    (diagnostic,) = lint_file(FIXTURES / "MS304_alias_with_canary" / "modelstack.yaml")
    assert "a canary rollout gives the alias routing weights" in diagnostic.message
    assert "AWS rejects provisioned concurrency on a weighted alias" in diagnostic.message


def test_json_output_is_plain_data() -> None:
    diagnostics = lint_file(FIXTURES / "MS401_gpu_misconfigured" / "modelstack.yaml")
    data = json.loads(FORMATTERS["json"](diagnostics, 1))
    assert [d["path"] for d in data] == [
        "targets.gpu.cpu",
        "targets.gpu.memory",
        "targets.gpu.cpu_always_allocated",
        "targets.gpu.max_instances",
        "targets.gpu.gpu.type",
    ]
    assert set(data[0]) == {
        "file", "line", "column", "end_line", "end_column", "rule_id", "severity", "message", "path"
    }  # fmt: skip
