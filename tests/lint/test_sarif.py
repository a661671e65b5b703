"""SARIF output is valid SARIF 2.1.0 (checked against the OASIS schema, formats included)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from modelstack.lint import lint_file
from modelstack.lint.formatters import format_sarif

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads(
    (ROOT / "tests" / "fixtures" / "lint" / "_sarif" / "sarif-2.1.0-rtm.5.json").read_text("utf-8")
)
BROKEN = "apiVersion: modelstack.dev/v1\nkind: ModelService\nmetadata: {name: Bad}\n"


def validate(log: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(log), key=str)
    assert errors == [], "\n".join(e.message for e in errors)


def test_the_format_checker_checks_uri_references() -> None:
    # Without a uri-reference checker installed the schema's formats would pass silently.
    checker = jsonschema.FormatChecker()
    assert not checker.conforms("my models/modelstack.yaml", "uri-reference")
    assert checker.conforms("my%20models/modelstack.yaml", "uri-reference")


@pytest.mark.parametrize("folder", ["my models", "ümlaut#1", "plain", "a%20b"])
def test_paths_become_relative_percent_encoded_uris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    manifest = tmp_path / folder / "modelstack.yaml"
    manifest.parent.mkdir()
    manifest.write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    diagnostics = lint_file(Path(folder) / "modelstack.yaml")
    assert diagnostics
    log = json.loads(format_sarif(diagnostics, 1))
    validate(log)
    run = log["runs"][0]
    base = run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base == tmp_path.resolve().as_uri() + "/"
    for result in run["results"]:
        artifact = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert artifact["uriBaseId"] == "SRCROOT"
        assert " " not in artifact["uri"] and "#" not in artifact["uri"]
        assert unquote(artifact["uri"]) == f"{folder}/modelstack.yaml"


def test_absolute_paths_inside_the_working_directory_are_relative_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "sub dir" / "modelstack.yaml"
    manifest.parent.mkdir()
    manifest.write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    log = json.loads(format_sarif(lint_file(manifest), 1))
    validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "sub%20dir/modelstack.yaml", "uriBaseId": "SRCROOT"}


def test_a_file_outside_the_working_directory_gets_an_absolute_file_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "out side" / "modelstack.yaml"
    manifest.parent.mkdir()
    manifest.write_text(BROKEN, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    log = json.loads(format_sarif(lint_file(manifest), 1))
    validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": manifest.as_uri()}


def test_every_golden_fixture_gives_valid_sarif(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    fixtures = sorted((ROOT / "tests" / "fixtures" / "lint").glob("*/modelstack.yaml"))
    diagnostics = [d for f in fixtures for d in lint_file(f.relative_to(ROOT))]
    log = json.loads(format_sarif(diagnostics, len(fixtures)))
    validate(log)
    assert {r["ruleId"] for r in log["runs"][0]["results"]} >= {"MS000", "MS001", "MS501"}


def test_an_empty_run_is_valid() -> None:
    validate(json.loads(format_sarif([], 0)))
