"""Lambda formulas against the worked examples on aws.amazon.com/lambda/pricing, to the cent."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelstack.cost.traffic import TrafficProfile, pattern_week
from modelstack.manifest.model import AwsLambdaTarget, ProvisionedConcurrency
from modelstack.providers.aws_lambda.billing import (
    LambdaUsage,
    cold_starts_per_week,
    lambda_usage,
    price_on_demand,
    price_provisioned,
    provisioned_usage,
)
from tests.cost.conftest import lambda_table


def flat(requests_per_month: float, duration_ms: float, **kw: float) -> TrafficProfile:
    return TrafficProfile(
        hourly=pattern_week("flat", requests_per_month), duration_ms=duration_ms, **kw
    )


def test_example_1_512mb_3m_requests_of_1s(tmp_path: Path) -> None:
    # The page's example uses $0.00001667 per GB-s: 1,100,000 GB-s -> $18.34, + $0.40 = $18.74.
    prices = lambda_table(tmp_path, duration_x86_64=0.00001667)
    target = AwsLambdaTarget(name="t", region="us-east-1", memory_mb=512)
    usage = lambda_usage(target, flat(3_000_000, 1000), 1000)
    assert usage.gb_seconds == pytest.approx(1_500_000)
    option = price_on_demand(usage, prices, "x86_64")
    lines = {line.item: line.usd for line in option.lines}
    assert round(lines["duration"] - 400_000 * 0.00001667, 2) == 18.34
    assert round(lines["requests"] - 1_000_000 * 0.0000002, 2) == 0.40
    assert round(option.monthly_usd, 2) == 18.74


def test_example_2_128mb_30m_requests_of_200ms(tmp_path: Path) -> None:
    # 750,000 GB-s - 400,000 free = 350,000 x $0.00001667 = $5.83; 29M x $0.20/M = $5.80.
    prices = lambda_table(tmp_path, duration_x86_64=0.00001667)
    target = AwsLambdaTarget(name="t", region="us-east-1", memory_mb=128)
    option = price_on_demand(lambda_usage(target, flat(30_000_000, 200), 200), prices, "x86_64")
    assert round(option.monthly_usd, 2) == 11.63


def test_the_free_tier_is_shown_apart_and_can_be_left_out(tmp_path: Path) -> None:
    prices = lambda_table(tmp_path, duration_x86_64=0.00001667)
    usage = LambdaUsage(requests=3_000_000, gb_seconds=1_500_000)
    with_tier = price_on_demand(usage, prices, "x86_64")
    without = price_on_demand(usage, prices, "x86_64", free_tier=False)
    assert round(with_tier.free_tier_usd, 2) == round(0.2 + 400_000 * 0.00001667, 2) == 6.87
    assert without.free_tier_usd == 0
    assert round(without.monthly_usd, 2) == round(0.6 + 1_500_000 * 0.00001667, 2) == 25.61


def test_provisioned_example_1024mb_1000_for_2_hours(tmp_path: Path) -> None:
    # PC: 1,000 GB x 7,200 s x $0.0000041667 = $30.00; 1.2M GB-s x $0.0000097222 = $11.67;
    # 1.2M requests x $0.20/M = $0.24; total $41.91 (no free tier with PC).
    prices = lambda_table(tmp_path)
    usage = LambdaUsage(
        requests=1_200_000,
        gb_seconds=0,
        pc_gb_seconds=1000 * 1.0 * 7200,
        pc_execution_gb_seconds=1_200_000 * 1.0 * 1.0,
    )
    option = price_provisioned(usage, prices, "x86_64")
    lines = {line.item: round(line.usd, 2) for line in option.lines}
    assert lines["provisioned concurrency"] == 30.00
    assert lines["duration (provisioned)"] == 11.67
    assert lines["requests"] == 0.24
    assert round(option.monthly_usd, 2) == 41.91


def test_arm64_and_rounding_up_to_the_millisecond(tmp_path: Path) -> None:
    prices = lambda_table(tmp_path)
    target = AwsLambdaTarget(name="t", region="us-east-1", memory_mb=1024, architecture="arm64")
    usage = lambda_usage(target, flat(1_000_000, 0.4), 0.4)  # billed as 1 ms
    assert usage.gb_seconds == pytest.approx(1_000_000 * 0.001 * 1.0)
    option = price_on_demand(usage, prices, "arm64", free_tier=False)
    duration = next(line for line in option.lines if line.item == "duration")
    assert duration.usd == pytest.approx(1000 * 0.0000133334)


def test_ephemeral_storage_above_512mb_is_billed(tmp_path: Path) -> None:
    target = AwsLambdaTarget(
        name="t", region="us-east-1", memory_mb=1024, ephemeral_storage_mb=2560
    )
    usage = lambda_usage(target, flat(1_000_000, 100), 100)
    assert usage.storage_gb_seconds == pytest.approx(1_000_000 * 0.1 * 2.0)
    default = lambda_usage(AwsLambdaTarget(name="t", region="us-east-1"), flat(10, 100), 100)
    assert default.storage_gb_seconds == 0


def test_init_is_billed_for_each_cold_start() -> None:
    target = AwsLambdaTarget(name="t", region="us-east-1", memory_mb=2048)
    week = [0.0] * 168
    week[10] = 3600 * 5  # 5 requests/s for an hour at 1 s each: 5 environments start
    profile = TrafficProfile(hourly=tuple(week), duration_ms=1000, init_ms=800)
    assert cold_starts_per_week(profile.hourly, 1000) == 5
    usage = lambda_usage(target, profile, 1000)
    execution = 18000 * 730 / 168 * 1.0 * 2.0
    assert usage.gb_seconds == pytest.approx(execution + 5 * 730 / 168 * 0.8 * 2.0)


def test_provisioned_usage_follows_the_level_and_spills_over() -> None:
    pc = ProvisionedConcurrency(min=2, max=2, target_utilization=1.0)
    target = AwsLambdaTarget(
        name="t", region="us-east-1", memory_mb=1024, provisioned_concurrency=pc
    )
    # 4 requests/s of 1 s: concurrency 4 against 2 provisioned, so half spills over.
    profile = TrafficProfile(hourly=(4 * 3600.0,) * 168, duration_ms=1000)
    usage, spill = provisioned_usage(target, profile, 1000)
    month = 730 / 168
    assert spill == pytest.approx(0.5)
    assert usage.pc_gb_seconds == pytest.approx(2 * 3600 * 168 * month)
    assert usage.pc_execution_gb_seconds == pytest.approx(2 * 3600 * 168 * month)
    assert usage.gb_seconds == pytest.approx(2 * 3600 * 168 * month)
