"""`modelstack test`, run the way a shell or CI runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import onnxruntime
import pytest
import xmlschema

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
IRIS_SHA256 = "9ea86fb53c2fa87900721eff8c341756ac782f5377a38b6e6e3f9fe2cc194f89"
SETOSA = [[5.1, 3.4, 1.5, 0.2]]
NUL_INPUTS_FILE = '    inputs_file: "in\\0.json"\n    expected'
SETOSA_INPUTS = (
    "    inputs:\n      float_input:\n        data: [[5.1, 3.4, 1.5, 0.2]]\n    expected"
)


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelstack", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    """A private copy of the iris bundle; returns its manifest."""
    bundle = tmp_path / "iris"
    bundle.mkdir()
    for name in ("modelstack.yaml", "model.onnx"):
        shutil.copy(IRIS / name, bundle / name)
    return bundle / "modelstack.yaml"


def edit(manifest: Path, old: str, new: str) -> None:
    text = manifest.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    manifest.write_text(text.replace(old, new), encoding="utf-8")


def setosa_probabilities() -> np.ndarray:
    session = onnxruntime.InferenceSession(
        str(IRIS / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    return session.run(["probabilities"], {"float_input": np.array(SETOSA, np.float32)})[0]


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_iris_passes_in_every_format(fmt: str) -> None:
    result = run("test", IRIS / "modelstack.yaml", "--format", fmt)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    if fmt == "text":
        lines = out.splitlines()
        assert lines[0] == "smoke tests for iris on onnxruntime in this process"
        assert re.fullmatch(r"  PASS  setosa  \d+\.\d\d ms \(budget 50 ms\)", lines[1])
        assert re.fullmatch(r"  PASS  versicolor  \d+\.\d\d ms", lines[2])
        assert re.fullmatch(r"  PASS  virginica  \d+\.\d\d ms", lines[3])
        assert re.fullmatch(r"3 passed, 0 failed in \d+\.\d\d s", lines[4])
    elif fmt == "json":
        report = strict_json(out)
        assert report["suite"] == "iris"
        assert report["passed"] is True
        results = report["results"]
        assert [r["name"] for r in results] == ["setosa", "versicolor", "virginica"]
        for r in results:
            assert r["passed"] is True
            assert isinstance(r["latency_ms"], float) and r["latency_ms"] > 0
            assert r["problems"] == [] and r["mismatches"] == []
        assert [r["budget_ms"] for r in results] == [50, None, None]
    else:
        root = ElementTree.fromstring(out)
        assert root.tag == "testsuite"
        assert root.get("name") == "iris"
        assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "0", "0")
        cases = root.findall("testcase")
        assert [c.get("name") for c in cases] == ["setosa", "versicolor", "virginica"]
        assert all(c.find("failure") is None for c in cases)
        assert all(float(c.get("time", "-1")) >= 0 for c in cases)


def test_wrong_label_fails_and_names_the_case(iris: Path) -> None:
    # versicolor's label is 1; expect 2 instead.
    edit(iris, "      label: {data: [1]}", "      label: {data: [2]}")
    result = run("test", iris)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"  FAIL  versicolor  \d+\.\d\d ms", lines[2])
    assert lines[3] == "        'label': expected 2 at index [0], got 1"
    assert lines[1].startswith("  PASS  setosa")
    assert re.fullmatch(r"2 passed, 1 failed in \d+\.\d\d s", lines[-1])


def test_wrong_label_in_junit(iris: Path) -> None:
    edit(iris, "      label: {data: [1]}", "      label: {data: [2]}")
    result = run("test", iris, "--format", "junit")
    assert result.returncode == 1
    root = ElementTree.fromstring(result.stdout)
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    [failed] = [c for c in root.findall("testcase") if c.find("failure") is not None]
    assert failed.get("name") == "versicolor"
    failure = failed.find("failure")
    assert failure is not None
    assert failure.get("message") == "'label': expected 2 at index [0], got 1"


def test_float_mismatch_reports_errors_and_index_in_json(iris: Path) -> None:
    # Setosa's first probability is about 0.966; expect 0.5 instead.
    edit(iris, "data: [[0.966, 0.034, 0.0]]", "data: [[0.5, 0.034, 0.0]]")
    result = run("test", iris, "--format", "json")
    assert result.returncode == 1
    report = strict_json(result.stdout)  # also: no Infinity from the expected 0.0 nearby
    assert report["passed"] is False
    setosa = report["results"][0]
    assert setosa["name"] == "setosa"
    assert setosa["passed"] is False
    [mismatch] = setosa["mismatches"]
    got = float(setosa_probabilities()[0, 0])
    assert mismatch["output"] == "probabilities"
    assert mismatch["index"] == [0, 0]
    assert mismatch["max_abs_error"] == pytest.approx(got - 0.5, abs=1e-6)
    assert mismatch["max_rel_error"] == pytest.approx((got - 0.5) / 0.5, abs=1e-6)
    [problem] = setosa["problems"]
    assert "max abs error 0.46" in problem
    assert "at index [0, 0] (expected 0.5, got 0.96" in problem
    assert "max rel error 0.93" in problem
    assert all(r["passed"] for r in report["results"][1:])


def test_impossible_latency_budget_fails(iris: Path) -> None:
    edit(iris, "    max_latency_ms: 50", "    max_latency_ms: 0.000001")
    result = run("test", iris)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"  FAIL  setosa  \d+\.\d\d ms \(budget 1e-06 ms\)", lines[1])
    assert re.fullmatch(r"        latency \d+\.\d\d ms is over the budget of 1e-06 ms", lines[2])


def test_output_file_gets_the_report(iris: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "smoke.xml"
    target.parent.mkdir()
    result = run("test", iris, "--format", "junit", "--output", target)
    assert result.returncode == 0, result.stderr
    root = ElementTree.parse(target).getroot()
    assert (root.get("tests"), root.get("failures")) == ("3", "0")
    # People still see how it went.
    assert "3 passed, 0 failed" in result.stdout
    assert "<testsuite" not in result.stdout


def test_output_file_with_json(iris: Path, tmp_path: Path) -> None:
    target = tmp_path / "smoke.json"
    edit(iris, "      label: {data: [2]}", "      label: {data: [0]}")
    result = run("test", iris, "--format", "json", "--output", target)
    assert result.returncode == 1
    report = strict_json(target.read_text(encoding="utf-8"))
    assert [r["passed"] for r in report["results"]] == [True, True, False]
    assert "FAIL  virginica" in result.stdout


def test_sha256_mismatch_refuses_to_run(iris: Path) -> None:
    pinned = "ab" * 32
    edit(iris, IRIS_SHA256, pinned)
    result = run("test", iris)
    assert result.returncode == 1
    assert result.stdout == ""  # nothing ran
    assert "sha256 mismatch for 'model.onnx'" in result.stderr
    assert pinned in result.stderr
    assert IRIS_SHA256 in result.stderr


def test_manifest_without_smoke_tests(iris: Path) -> None:
    text = iris.read_text(encoding="utf-8")
    iris.write_text(text[: text.index("smoke_tests:")], encoding="utf-8")
    result = run("test", iris)
    assert result.returncode == 1
    assert result.stdout == ""
    assert f"{iris}: no smoke_tests to run; add some to the manifest" in result.stderr


def test_missing_manifest() -> None:
    result = run("test", "does-not-exist/modelstack.yaml")
    assert result.returncode == 1
    assert "does-not-exist/modelstack.yaml" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_model_failing_on_the_warm_up_input_is_a_failed_smoke_test(
    warmup_failing_bundle: Path,
) -> None:
    result = run("test", warmup_failing_bundle, "--format", "json")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "the model failed on its warm-up input" in result.stderr
    [case] = strict_json(result.stdout)["results"]
    assert (case["name"], case["passed"]) == ("two-rows", False)
    assert "cannot be reshaped" in " ".join(case["problems"])


def test_a_warm_up_input_the_model_refuses_is_a_failed_smoke_test(iris: Path) -> None:
    edit(
        iris,
        "        data: [[5.1, 3.4, 1.5, 0.2]]\n    expected",
        "        data: [[5.1, 3.4, 1.5]]\n    expected",
    )
    result = run("test", iris)
    assert result.returncode == 1, result.stderr
    assert (
        "warm-up failed: input 'float_input': expected shape [-1, 4], got [1, 3]" in result.stderr
    )
    assert "FAIL  setosa" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_manifest_that_is_a_directory_is_a_usage_error(iris: Path) -> None:
    result = run("test", iris.parent)
    assert result.returncode == 2
    assert f"{iris.parent}:1:1: it is a directory, not a regular file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("  path: model.onnx", '  path: "model\\0.onnx"', ":12:9: the model path"),
        (SETOSA_INPUTS, NUL_INPUTS_FILE, ":69:5: smoke test 'setosa'"),
    ],
)  # fmt: skip
def test_a_nul_byte_in_a_path_is_a_positioned_error(
    iris: Path, old: str, new: str, where: str
) -> None:
    edit(iris, old, new)
    result = run("test", iris)
    assert result.returncode == 1, result.stderr
    assert f"{iris}{where}" in result.stderr and "NUL byte" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_deeply_nested_inputs_file_is_a_clear_error(iris: Path) -> None:
    edit(iris, SETOSA_INPUTS, "    inputs_file: deep.json\n    expected")
    (iris.parent / "deep.json").write_text('{"float_input": ' + "[" * 50_000 + "]" * 50_000 + "}")
    result = run("test", iris)
    assert result.returncode == 1, result.stderr
    assert "cannot read deep.json: the JSON is nested too deeply" in result.stderr
    assert "Traceback" not in result.stderr


# -- JUnit reports against a strict schema ----------------------------------------------------

JUNIT_XSD = ROOT / "tests" / "fixtures" / "junit" / "junit-10.xsd"
TIME = re.compile(r"\d+\.\d{3}")  # at most three decimals, as Surefire and Jenkins require


@pytest.fixture(scope="module")
def junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(JUNIT_XSD)


def assert_strict_junit(schema: xmlschema.XMLSchema, text: str) -> ElementTree.Element:
    schema.validate(text)  # raises with the offending element and attribute
    root = ElementTree.fromstring(text)
    for element in root.iter():
        if "time" in element.attrib:
            assert TIME.fullmatch(element.attrib["time"]), (element.tag, element.attrib)
    return root


def test_the_schema_refuses_four_decimals(junit_schema: xmlschema.XMLSchema) -> None:
    """The vendored schema really is strict about suite times, so the checks below mean it."""
    suite = '<testsuite name="s" tests="0" failures="0" errors="0" time="{}"/>'
    assert junit_schema.is_valid(suite.format("0.123"))
    assert not junit_schema.is_valid(suite.format("0.1234"))


@pytest.mark.parametrize("label", ["1", "2"], ids=["passing", "failing"])
def test_junit_report_passes_a_strict_schema(
    iris: Path, junit_schema: xmlschema.XMLSchema, label: str
) -> None:
    edit(iris, "      label: {data: [1]}", f"      label: {{data: [{label}]}}")
    result = run("test", iris, "--format", "junit")
    assert result.returncode == (0 if label == "1" else 1), result.stderr
    root = assert_strict_junit(junit_schema, result.stdout)
    assert root.get("failures") == ("0" if label == "1" else "1")


def sha256_mismatch(manifest: Path) -> str:
    edit(manifest, IRIS_SHA256, "ab" * 32)
    return "sha256 mismatch for 'model.onnx'"


def unparsable_manifest(manifest: Path) -> str:
    manifest.write_text("apiVersion: [modelstack.dev/v1\n", encoding="utf-8")
    return str(manifest)


def missing_manifest(manifest: Path) -> str:
    manifest.unlink()
    return str(manifest)


def no_smoke_tests(manifest: Path) -> str:
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text[: text.index("smoke_tests:")], encoding="utf-8")
    return "no smoke_tests to run"


@pytest.mark.parametrize(
    "break_it", [sha256_mismatch, unparsable_manifest, missing_manifest, no_smoke_tests]
)
@pytest.mark.parametrize("to_file", [True, False], ids=["output", "stdout"])
def test_junit_report_when_the_run_stops_before_any_test(
    iris: Path,
    tmp_path: Path,
    junit_schema: xmlschema.XMLSchema,
    break_it: Callable[[Path], str],
    to_file: bool,
) -> None:
    reason = break_it(iris)
    target = tmp_path / "smoke.xml"
    result = run("test", iris, "--format", "junit", *(["--output", target] if to_file else []))
    assert result.returncode in (1, 2)  # the same exit as without --format junit
    assert reason in result.stderr  # people still read why on stderr
    assert "Traceback" not in result.stderr
    text = target.read_text(encoding="utf-8") if to_file else result.stdout
    assert result.stdout == "" if to_file else text
    root = assert_strict_junit(junit_schema, text)
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("1", "0", "1")
    [case] = root.findall("testcase")
    assert case.get("name") == "setup"
    error = case.find("error")
    assert error is not None
    assert reason in (error.get("message") or "")
    assert reason in (error.text or "")
