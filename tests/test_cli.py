"""Acceptance tests of the command line, run the way a shell or CI runs it."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from example_copies import copy_example

from modelstack.cli import COMMANDS, build_parser, main
from modelstack.lint import ALL_RULES, discover_manifests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "lint"
IRIS = ROOT / "examples" / "iris" / "modelstack.yaml"
FORMATS = ["text", "json", "github", "sarif"]
TEXT_LINE = re.compile(
    r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<rule>MS\d{3}) (?P<sev>error|warning): "
    r"(?P<msg>.+)$"
)
TEXT_SUMMARY = re.compile(
    r"^\d+ error\(s\), \d+ warning\(s\) in \d+ manifests?$|^\d+ manifests? checked, no problems$"
)
GITHUB_LINE = re.compile(
    r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),.*title=(MS\d{3})::(.*)$"
)

# The parts of SARIF 2.1.0 that code scanning reads, as a schema.
SARIF = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["tool", "results"],
                "properties": {
                    "tool": {
                        "type": "object",
                        "required": ["driver"],
                        "properties": {
                            "driver": {
                                "type": "object",
                                "required": ["name", "rules"],
                                "properties": {
                                    "name": {"const": "modelstack"},
                                    "rules": {
                                        "type": "array",
                                        "items": {"type": "object", "required": ["id"]},
                                    },
                                },
                            }
                        },
                    },
                    "results": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["ruleId", "level", "message", "locations"],
                            "properties": {
                                "ruleId": {"type": "string", "pattern": "^MS[0-9]{3}$"},
                                "ruleIndex": {"type": "integer", "minimum": 0},
                                "level": {"enum": ["none", "note", "warning", "error"]},
                                "message": {"type": "object", "required": ["text"]},
                                "locations": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {
                                        "type": "object",
                                        "required": ["physicalLocation"],
                                        "properties": {
                                            "physicalLocation": {
                                                "type": "object",
                                                "required": ["artifactLocation", "region"],
                                                "properties": {
                                                    "artifactLocation": {
                                                        "type": "object",
                                                        "required": ["uri"],
                                                    },
                                                    "region": {
                                                        "type": "object",
                                                        "required": ["startLine"],
                                                        "properties": {
                                                            "startLine": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                            "startColumn": {
                                                                "type": "integer",
                                                                "minimum": 1,
                                                            },
                                                        },
                                                    },
                                                },
                                            }
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "modelstack", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def sarif_file(run_: dict[str, Any], artifact: dict[str, str]) -> str:
    """The local path of a SARIF artifact location (relative URIs resolve against their base)."""
    base = (
        run_["originalUriBaseIds"][artifact["uriBaseId"]]["uri"] if "uriBaseId" in artifact else ""
    )
    return urllib.request.url2pathname(urllib.parse.urlparse(base + artifact["uri"]).path)


def parse(fmt: str, out: str) -> list[dict[str, Any]]:
    """Diagnostics as (file, line, column, rule_id, severity, message) dicts from any format."""
    if fmt == "json":
        data: list[dict[str, Any]] = json.loads(out)
        return data
    if fmt == "sarif":
        log = json.loads(out)
        jsonschema.validate(log, SARIF)
        run_ = log["runs"][0]
        rules = run_["tool"]["driver"]["rules"]
        result = []
        for r in run_["results"]:
            assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
            location = r["locations"][0]["physicalLocation"]
            result.append(
                {
                    "file": sarif_file(run_, location["artifactLocation"]),
                    "line": location["region"]["startLine"],
                    "column": location["region"]["startColumn"],
                    "rule_id": r["ruleId"],
                    "severity": r["level"],
                    "message": r["message"]["text"],
                }
            )
        return result
    if fmt == "github":
        result = []
        for line in out.splitlines():
            match = GITHUB_LINE.match(line)
            assert match, line
            sev, file, line_no, col, rule, msg = match.groups()
            result.append(
                {"file": file, "line": int(line_no), "column": int(col), "rule_id": rule,
                 "severity": sev, "message": msg}
            )  # fmt: skip
        return result
    result = []
    lines = out.splitlines()
    for line in lines[:-1]:
        match = TEXT_LINE.match(line)
        assert match, line
        result.append(
            {"file": match["file"], "line": int(match["line"]), "column": int(match["col"]),
             "rule_id": match["rule"], "severity": match["sev"], "message": match["msg"]}
        )  # fmt: skip
    assert TEXT_SUMMARY.match(lines[-1]), lines[-1]
    return result


# -- lint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_lint_clean(fmt: str) -> None:
    result = run("lint", str(IRIS), "--format", fmt)
    assert result.returncode == 0, result.stderr
    assert parse(fmt, result.stdout) == []
    if fmt == "text":
        assert result.stdout == "1 manifest checked, no problems\n"


@pytest.mark.parametrize("fmt", FORMATS)
def test_lint_errors_and_warnings(fmt: str) -> None:
    gpu = str(FIXTURES / "MS401_gpu_misconfigured" / "modelstack.yaml")
    public = str(FIXTURES / "MS406_public_service" / "modelstack.yaml")
    result = run("lint", gpu, public, "--format", fmt)
    assert result.returncode == 1, result.stderr
    diagnostics = parse(fmt, result.stdout)
    got = [(d["file"], d["line"], d["column"], d["rule_id"], d["severity"]) for d in diagnostics]
    assert got == [
        (gpu, 14, 10, "MS401", "error"),
        (gpu, 15, 13, "MS402", "error"),
        (gpu, 16, 27, "MS403", "error"),
        (gpu, 17, 20, "MS405", "warning"),
        (gpu, 19, 13, "MS404", "error"),
        (public, 14, 13, "MS406", "warning"),
    ]  # fmt: skip
    assert "Did you mean 'nvidia-l4'?" in diagnostics[4]["message"]
    if fmt == "text":
        assert result.stdout.splitlines()[-1] == "4 error(s), 2 warning(s) in 2 manifests"
    if fmt == "json":
        assert set(diagnostics[0]) >= {"file", "line", "column", "rule_id", "severity", "message"}


def test_lint_warnings_only_exit_zero() -> None:
    result = run("lint", str(FIXTURES / "MS406_public_service"), "--format", "github")
    assert result.returncode == 0
    assert result.stdout.startswith("::warning file=")


@pytest.mark.parametrize("fmt", FORMATS)
def test_parse_errors_in_every_format(fmt: str) -> None:
    path = str(FIXTURES / "MS000_duplicate_key" / "modelstack.yaml")
    result = run("lint", path, "--format", fmt)
    assert result.returncode == 1
    ((diagnostic),) = parse(fmt, result.stdout)
    assert (diagnostic["rule_id"], diagnostic["line"], diagnostic["column"]) == ("MS000", 6, 3)


def test_github_escapes_newlines_and_property_separators(tmp_path: Path) -> None:
    folder = tmp_path / "a,b:c"
    folder.mkdir()
    (folder / "modelstack.yaml").write_text("- 1\n")
    result = run("lint", str(folder / "modelstack.yaml"), "--format", "github")
    assert result.returncode == 1
    (line,) = result.stdout.splitlines()
    assert "file=" + str(folder).replace(":", "%3A").replace(",", "%2C") in line


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (["lint", "does/not/exist.yaml"], "no such file: does/not/exist.yaml"),
        (["lint", "schemas"], "no modelstack.yaml or modelstack.yml found under schemas"),
        (["lint", str(IRIS), "--format", "xml"], "invalid choice: 'xml'"),
        (["lint", str(IRIS), "--bogus"], "unrecognized arguments: --bogus"),
        (["lint", str(IRIS), "--select", "MS999"], "unknown rule id 'MS999'"),
        ([], "the following arguments are required: COMMAND"),
        (["nonsense"], "invalid choice: 'nonsense'"),
    ],
)
def test_usage_errors_exit_2(args: list[str], stderr: str) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert stderr in result.stderr


def test_lint_defaults_to_the_current_directory(tmp_path: Path) -> None:
    copy_example("iris", tmp_path / "iris")
    result = run("lint", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 manifest checked, no problems\n"


def test_directory_discovery(tmp_path: Path) -> None:
    for folder in ("a", "b/c"):
        copy_example("iris", tmp_path / folder)
    (tmp_path / "b" / "c" / "modelstack.yaml").rename(tmp_path / "b" / "c" / "modelstack.yml")
    for skipped in (".git", ".venv", "node_modules", "a/.venv/lib"):
        (tmp_path / skipped).mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped / "modelstack.yaml").write_text("not: [valid\n")
    (tmp_path / "a" / "other.yaml").write_text("not: [valid\n")

    found = discover_manifests([tmp_path])
    assert found == [tmp_path / "a" / "modelstack.yaml", tmp_path / "b" / "c" / "modelstack.yml"]
    result = run("lint", str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert result.stdout == "2 manifests checked, no problems\n"


# -- other commands ----------------------------------------------------------------------------


def test_schema_prints_the_schema_file() -> None:
    result = run("schema")
    assert result.returncode == 0
    schema_file = ROOT / "schemas" / "modelstack.v1.schema.json"
    assert result.stdout == schema_file.read_text(encoding="utf-8")
    assert json.loads(result.stdout)["$id"].endswith("modelstack.v1.schema.json")


def test_rules_lists_every_rule() -> None:
    result = run("rules")
    assert result.returncode == 0
    listed = re.findall(r"^\| (MS\d{3}) \|", result.stdout, flags=re.M)
    assert listed == [rule.id for rule in ALL_RULES]


def test_version() -> None:
    from modelstack import __version__

    result = run("--version")
    assert (result.returncode, result.stdout) == (0, f"modelstack {__version__}\n")


# -- the parser --------------------------------------------------------------------------------


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def test_every_command_has_a_subparser_and_the_other_way_round() -> None:
    assert set(subcommands()) == set(COMMANDS)
    assert {"lint", "rules", "schema"} <= set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_each_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: modelstack {command}")
    assert "%%" not in out  # argparse does not %-format descriptions


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    assert "exit codes: 0 ok" in out


MINIMAL_ARGV = {
    "build": ["m.yaml"],
    "cost": ["m.yaml"],
    "destroy": ["m.yaml"],
    "evaluate": ["m.yaml"],
    "events": ["m.yaml"],
    "history": ["m.yaml"],
    "init": ["m.onnx"],
    "lint": [],
    "monitor": ["m.yaml"],
    "optimize": ["m.yaml", "--method", "dynamic-int8"],
    "plan": ["m.yaml"],
    "rollback": ["m.yaml"],
    "rules": [],
    "schema": [],
    "serve": ["m.yaml"],
    "status": ["m.yaml"],
    "test": ["m.yaml"],
    "up": ["m.yaml"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_dispatched_to_its_own_function(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    module = importlib.import_module(f"modelstack.commands.{command}")
    called: list[str] = []
    monkeypatch.setattr(module, command, lambda *a, **k: called.append(command) or 0)
    assert main([command, *MINIMAL_ARGV[command]]) == 0
    assert called == [command]


# -- every flag reaches its parameter (generated from the parser) -------------------------------

# A parser dest and the command parameter of the same meaning, where the names differ.
PARAMETER_NAMES = {"format": {"fmt"}, "manifest": {"manifest_path", "manifest"}}


def distinctive(action: argparse.Action, index: int) -> tuple[list[str], Any]:
    """A command-line fragment for `action` and the value its parameter must then receive."""
    flag = action.option_strings[-1] if action.option_strings else None
    if isinstance(action, argparse._StoreTrueAction):
        return [str(flag)], True
    if isinstance(action, argparse._StoreFalseAction):
        return [str(flag)], False
    if action.choices is not None:
        value = [c for c in action.choices if c != action.default][-1]
    elif action.type is int:
        value = 40000 + index
    elif action.type is float:
        value = 40000.5 + index
    else:
        value = f"{action.dest}-{index}-value"
    return ([str(flag)] if flag else []) + [str(value)], value


def received(call: inspect.BoundArguments) -> dict[str, Any]:
    """The bound arguments, with the fields of an options object (a dataclass) beside them."""
    values = dict(call.arguments)
    for value in call.arguments.values():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            values.update({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    return values


def reaches(got: dict[str, Any], dest: str, expected: Any) -> bool:
    for name in {dest} | PARAMETER_NAMES.get(dest, set()):
        value = got.get(name, inspect.Parameter.empty)
        if value == expected:
            return True
        if isinstance(value, (list, tuple)) and expected in value:
            return True
    return False


_REAL_COMMANDS: dict[str, Any] = {}


def dispatched(command: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import importlib

    module = importlib.import_module(f"modelstack.commands.{command}")
    real = _REAL_COMMANDS.setdefault(command, getattr(module, command))  # not an earlier patch
    calls: list[inspect.BoundArguments] = []
    monkeypatch.setattr(
        module, command, lambda *a, **k: calls.append(inspect.signature(real).bind(*a, **k)) or 0
    )
    assert main([command, *argv]) == 0
    (call,) = calls
    return received(call)


def flag_cases() -> list[tuple[str, str]]:
    return [
        (command, action.dest)
        for command, sub in sorted(subcommands().items())
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction)
    ]


@pytest.mark.parametrize(("command", "dest"), flag_cases())
def test_each_flag_reaches_the_parameter_of_the_same_meaning(
    command: str, dest: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    actions = [
        a for a in subcommands()[command]._actions if not isinstance(a, argparse._HelpAction)
    ]
    # Positionals and required options always get a value; the flag under test gets its own.
    required: list[str] = []
    for index, action in enumerate(actions):
        if (not action.option_strings or action.required) and action.dest != dest:
            required += distinctive(action, index)[0]
    (index, action) = next((i, a) for i, a in enumerate(actions) if a.dest == dest)
    fragment, expected = distinctive(action, index)
    got = dispatched(command, required + fragment, monkeypatch)
    assert reaches(got, dest, expected), (command, required + fragment, got)
    # No other parameter received this flag's distinctive value by mistake: compare with the
    # same command line without the flag (an option's default may equal another's choice).
    if action.option_strings and not action.required and not isinstance(expected, bool):
        without = dispatched(command, required, monkeypatch)
        wrong = [
            n
            for n, v in got.items()
            if (v == expected or expected in _seq(v))
            and without.get(n) != v
            and n not in {dest} | PARAMETER_NAMES.get(dest, set())
            and not (dataclasses.is_dataclass(v) and not isinstance(v, type))
        ]
        assert wrong == [], (command, dest, wrong)


def _seq(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, (list, tuple)) else ()


def test_every_flag_case_is_generated_from_the_parser() -> None:
    cases = flag_cases()
    assert ("build", "quiet") in cases and ("build", "registry") in cases
    assert ("up", "verbose") in cases and ("lint", "model_checks") in cases
    assert len(cases) > 40
