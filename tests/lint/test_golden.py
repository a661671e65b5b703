"""Golden tests: each folder under tests/fixtures/lint/ and the diagnostics it must produce.

expected.json lists every diagnostic in order, with its rule id, severity, 1-based line and
column, and a substring of its message. Regenerate with scripts/regen-golden and review the diff.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelstack.lint import ALL_RULES, Diagnostic, lint_file, lint_paths
from modelstack.lint.engine import LintOptions

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lint"
CASES = sorted(p.parent for p in FIXTURES.glob("*/modelstack.yaml"))


def expected(case: Path) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads((case / "expected.json").read_text("utf-8"))
    return items


def normalise(message: str) -> str:
    return message.replace(str(FIXTURES.resolve()), "<fixtures>")


def test_there_are_cases_and_each_has_expectations() -> None:
    assert len(CASES) >= 30
    for case in CASES:
        assert (case / "expected.json").is_file(), case.name
        assert expected(case), f"{case.name} expects no diagnostics"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path) -> None:
    diagnostics = lint_file(case / "modelstack.yaml")
    got = [(d.rule_id, d.severity, d.line, d.column) for d in diagnostics]
    want = [(e["rule_id"], e["severity"], e["line"], e["column"]) for e in expected(case)]
    assert got == want
    for diagnostic, item in zip(diagnostics, expected(case), strict=True):
        assert item["message"] in normalise(diagnostic.message)
        assert diagnostic.file == str(case / "modelstack.yaml")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_named_after_a_rule_it_triggers(case: Path) -> None:
    rule_id = case.name.split("_", 1)[0]
    assert rule_id in {e["rule_id"] for e in expected(case)}


def test_every_rule_has_a_fixture_that_triggers_it() -> None:
    triggered = {e["rule_id"] for case in CASES for e in expected(case)}
    assert {rule.id for rule in ALL_RULES} - triggered == set()


def test_clean_examples_trigger_nothing() -> None:
    examples = sorted((ROOT / "examples").glob("*/modelstack.yaml"))
    assert len(examples) >= 2
    assert lint_paths([ROOT / "examples"], LintOptions()) == []


def test_diagnostics_have_end_positions_after_their_start() -> None:
    diagnostics: list[Diagnostic] = []
    for case in CASES:
        diagnostics.extend(lint_file(case / "modelstack.yaml"))
    for d in diagnostics:
        assert (d.end_line, d.end_column) >= (d.line, d.column), d
