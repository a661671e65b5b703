"""Per-line `# modelstack: noqa`, and --select / --ignore (ids or prefixes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from modelstack.cli import main
from modelstack.lint import LintOptions, lint_file
from modelstack.lint.noqa import noqa_lines

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lint"
WriteBundle = Callable[..., Path]

# One line with two findings (MS301 memory, MS302 timeout), one line with a third (MS502).
TARGET = (
    "  prod: {provider: aws-lambda, region: eu-west-1, memory_mb: 64, timeout_s: 1000}{noqa}\n"
    "build:\n"
    "  base_image: python:3.12-slim\n"
)


def bundle(write_bundle: WriteBundle, noqa: str = "") -> Path:
    manifest = write_bundle()
    text = manifest.read_text().replace(
        "  dev:\n    provider: local\n", TARGET.replace("{noqa}", noqa)
    )
    manifest.write_text(text)
    return manifest


def ids(path: Path, options: LintOptions | None = None) -> list[tuple[str, int]]:
    return [(d.rule_id, d.line) for d in lint_file(path, options)]


def test_without_noqa(write_bundle: WriteBundle) -> None:
    assert ids(bundle(write_bundle)) == [("MS301", 10), ("MS302", 10), ("MS502", 12)]


@pytest.mark.parametrize(
    ("comment", "left"),
    [
        ("  # modelstack: noqa MS301", [("MS302", 10), ("MS502", 12)]),
        ("  # modelstack: noqa: MS302", [("MS301", 10), ("MS502", 12)]),
        ("  # modelstack: noqa MS301, MS302", [("MS502", 12)]),
        ("  # modelstack: noqa ms301 ms302", [("MS502", 12)]),
        ("  # modelstack: noqa", [("MS502", 12)]),
        ("  # MODELSTACK: NOQA", [("MS502", 12)]),
        ("  # modelstack: noqa MS502", [("MS301", 10), ("MS302", 10), ("MS502", 12)]),
        ("  # noqa", [("MS301", 10), ("MS302", 10), ("MS502", 12)]),
    ],
)
def test_noqa_suppresses_only_what_it_names_on_its_line(
    write_bundle: WriteBundle, comment: str, left: list[tuple[str, int]]
) -> None:
    assert ids(bundle(write_bundle, comment)) == left


def test_noqa_table() -> None:
    table = noqa_lines("a: 1  # modelstack: noqa\nb: 2\nc: 3  # modelstack: noqa MS101,MS102\n")
    assert table == {1: None, 3: frozenset({"MS101", "MS102"})}


def test_select_and_ignore_take_ids_and_prefixes(write_bundle: WriteBundle) -> None:
    path = bundle(write_bundle)
    assert ids(path, LintOptions(select=["MS3"])) == [("MS301", 10), ("MS302", 10)]
    assert ids(path, LintOptions(select=["ms302"])) == [("MS302", 10)]
    assert ids(path, LintOptions(select=["MS5", "MS301"])) == [("MS301", 10), ("MS502", 12)]
    assert ids(path, LintOptions(ignore=["MS502"])) == [("MS301", 10), ("MS302", 10)]
    assert ids(path, LintOptions(select=["MS3"], ignore=["MS301"])) == [("MS302", 10)]


def test_parse_errors_follow_select() -> None:
    path = FIXTURES / "MS000_invalid_yaml" / "modelstack.yaml"
    assert ids(path) == [("MS000", 7)]
    assert ids(path, LintOptions(ignore=["MS000"])) == []


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_select(write_bundle: WriteBundle, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(bundle(write_bundle))
    code, out, _ = run(["lint", path, "--select", "MS3", "--format", "json"], capsys)
    assert code == 1
    assert '"MS301"' in out and '"MS302"' in out and "MS502" not in out


def test_cli_ignore(write_bundle: WriteBundle, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(bundle(write_bundle))
    code, out, _ = run(["lint", path, "--ignore", "MS301,MS302"], capsys)
    assert code == 0  # only the MS502 warning is left
    assert f"{path}:12:15: MS502 warning: " in out
    code, out, _ = run(["lint", path, "--ignore", "MS502", "--ignore", "MS3"], capsys)
    assert (code, out) == (0, "1 manifest checked, no problems\n")


@pytest.mark.parametrize("flag", ["--select", "--ignore"])
def test_cli_unknown_rule_id_is_a_usage_error(
    write_bundle: WriteBundle, capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    code, out, err = run(["lint", str(bundle(write_bundle)), flag, "MS999"], capsys)
    assert code == 2
    assert out == ""
    assert "unknown rule id 'MS999'" in err
