"""Price tables: shipped, dated and sourced; overridable; bad ones refused clearly."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from modelstack.cost.prices import MAX_PRICE_AGE_DAYS, load_tables, shipped_tables
from modelstack.errors import CostError
from modelstack.providers.aws_lambda.pricing import ec2_prices, lambda_prices
from modelstack.providers.gcp_cloud_run.pricing import cloud_run_prices

PROVIDERS = ["aws-lambda", "ec2", "gcp-cloud-run", "gce"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_shipped_tables_are_younger_than_the_documented_age(provider: str) -> None:
    tables = shipped_tables(provider)
    assert tables
    for table in tables:
        age = (date.today() - table.date).days
        assert age <= MAX_PRICE_AGE_DAYS, (
            f"{table.origin} is {age} days old; refresh it from its sources"
        )


@pytest.mark.parametrize("provider", PROVIDERS)
def test_every_shipped_number_names_its_source(provider: str) -> None:
    for table in shipped_tables(provider):
        assert set(table.sources) == set(table.prices)
        assert all(s.startswith("https://") for s in table.sources.values())
        assert all(vm.source.startswith("https://") for vm in table.instances)


def test_shipped_lambda_prices_are_the_published_ones() -> None:
    table = lambda_prices("us-east-1")
    assert table.price("request") == 0.0000002
    assert table.price("duration_x86_64") == 0.0000166667
    assert table.free_tier["gb_seconds"] == 400000


def test_an_unknown_region_names_the_shipped_ones() -> None:
    with pytest.raises(CostError, match=r"region 'mars-1' \(shipped: eu-west-1, us-east-1\)"):
        lambda_prices("mars-1")


def test_an_override_table_wins_and_adds_regions(write_json: Any) -> None:
    table = {
        "kind": "reserved",
        "provider": "ec2",
        "region": "eu-west-1",
        "date": "2026-09-01",
        "instances": [
            {
                "type": "m7g.large",
                "vcpu": 2,
                "memory_gib": 8,
                "usd_per_hour": 0.09,
                "source": "https://example.com/quote",
            }
        ],
    }
    path = write_json("p.json", [table])
    tables = load_tables(str(path))
    assert ec2_prices("eu-west-1", tables).vm("m7g.large").usd_per_hour == 0.09
    with pytest.raises(CostError, match=r"unknown instance type 'c9.huge'"):
        ec2_prices("eu-west-1", tables).vm("c9.huge")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"kind": "serverless", "date": "2026-01-01"}, "'provider' must be a non-empty"),
        ({"kind": "x", "provider": "p", "region": "r", "date": "2026-01-01"}, "'kind' must be"),
        (
            {"kind": "serverless", "provider": "p", "region": "r", "date": "01/02/2026"},
            "YYYY-MM-DD",
        ),
        (
            {
                "kind": "serverless",
                "provider": "p",
                "region": "r",
                "date": "2026-01-01",
                "prices": {"a": {"usd": -1, "source": "s"}},
            },
            "negative",
        ),
        (
            {
                "kind": "serverless",
                "provider": "p",
                "region": "r",
                "date": "2026-01-01",
                "prices": {"a": {"usd": 1}},
            },
            "'source' must be a non-empty string",
        ),
        (
            {
                "kind": "reserved",
                "provider": "p",
                "region": "r",
                "date": "2026-01-01",
                "instances": [{"type": "t", "vcpu": "two"}],
            },
            "vcpu must be a finite number",
        ),
    ],
)
def test_bad_tables_are_refused(write_json: Any, doc: dict[str, Any], message: str) -> None:
    path = write_json("bad.json", doc)
    with pytest.raises(CostError, match=message):
        load_tables(str(path))


def test_a_file_that_is_not_json_names_the_position(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"kind":\n  oops}', encoding="utf-8")
    with pytest.raises(CostError, match=r"p.json:2:3: not a JSON price table"):
        load_tables(str(path))


def test_a_missing_gpu_price_names_the_table() -> None:
    with pytest.raises(CostError, match="no 'gpu_second_nvidia-a100' price"):
        cloud_run_prices("us-central1").price("gpu_second_nvidia-a100")
