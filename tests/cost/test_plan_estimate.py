"""`modelstack plan` with a traffic: section: a monthly column, a total, and Markdown."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from modelstack.cli import main
from modelstack.commands.plan import plan

ROOT = Path(__file__).resolve().parents[2]
TRAFFIC = "traffic:\n  pattern: business-hours\n  requests_per_month: 2000000\n  duration_ms: 3\n"


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    bundle = tmp_path / "iris"
    shutil.copytree(
        ROOT / "examples" / "iris", bundle, ignore=shutil.ignore_patterns(".modelstack")
    )
    return bundle / "modelstack.yaml"


def plan_json(manifest: Path) -> dict[str, Any]:
    out = io.StringIO()
    assert plan(str(manifest), "prod", "json", out=out) == 0
    report: dict[str, Any] = json.loads(out.getvalue())
    return report


def test_the_estimate_is_the_declared_option_spread_over_its_resources(
    iris: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iris.write_text(iris.read_text(encoding="utf-8") + TRAFFIC, encoding="utf-8")
    report = plan_json(iris)
    by_type = {r["type"]: r["monthly_usd"] for r in report["resources"]}
    pc = by_type["aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig"]
    function = by_type["aws:lambda/function:Function"]
    assert pc > 0 and function > 0 and by_type["aws:iam/role:Role"] is None
    assert report["estimate"]["option"] == "lambda-provisioned"
    assert report["estimate"]["monthly_usd"] == pytest.approx(pc + function, abs=0.011)
    assert main(["cost", str(iris), "-t", "prod", "--format", "json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    declared = next(o for o in cost["options"] if o["option"] == "lambda-provisioned")
    assert declared["monthly_usd"] == report["estimate"]["monthly_usd"]


def test_table_and_markdown_show_the_column_and_the_total(iris: Path) -> None:
    iris.write_text(iris.read_text(encoding="utf-8") + TRAFFIC, encoding="utf-8")
    table, markdown = io.StringIO(), io.StringIO()
    plan(str(iris), "prod", "table", out=table)
    plan(str(iris), "prod", "markdown", out=markdown)
    assert "MONTHLY" in table.getvalue() and "estimated monthly total: $" in table.getvalue()
    assert "| type | name | monthly |" in markdown.getvalue()
    assert "estimated monthly total: $" in markdown.getvalue()


def test_without_traffic_nothing_changes(iris: Path) -> None:
    report = plan_json(iris)
    assert "estimate" not in report
    assert all("monthly_usd" not in r for r in report["resources"])
    table = io.StringIO()
    plan(str(iris), "prod", "table", out=table)
    assert "MONTHLY" not in table.getvalue()


def test_traffic_without_a_latency_says_so_instead_of_failing(iris: Path) -> None:
    section = "traffic:\n  requests_per_month: 1000\n"
    iris.write_text(iris.read_text(encoding="utf-8") + section, encoding="utf-8")
    report = plan_json(iris)
    assert "no latency to price with" in report["estimate"]["note"]
