"""Price tables for the cost tests, written as the shipped files are, from given numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelstack.cost.prices import PriceTable, load_tables

SOURCE = "https://aws.amazon.com/lambda/pricing/"


def lambda_table(tmp_path: Path, **prices: float) -> PriceTable:
    """A us-east-1 Lambda table with the given unit prices (the rest as shipped)."""
    base = {
        "request": 0.0000002,
        "duration_x86_64": 0.0000166667,
        "duration_arm64": 0.0000133334,
        "provisioned_x86_64": 0.0000041667,
        "provisioned_duration_x86_64": 0.0000097222,
        "ephemeral_storage": 0.0000000309,
    }
    base.update(prices)
    doc: dict[str, Any] = {
        "kind": "serverless",
        "provider": "aws-lambda",
        "region": "us-east-1",
        "date": "2026-08-19",
        "prices": {k: {"usd": v, "per": "unit", "source": SOURCE} for k, v in base.items()},
        "free_tier": {"requests": 1000000, "gb_seconds": 400000, "source": SOURCE},
    }
    path = tmp_path / "lambda.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    (table,) = load_tables(str(path))
    return table


@pytest.fixture
def write_json(tmp_path: Path) -> Any:
    def write(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data), encoding="utf-8")
        return path

    return write
