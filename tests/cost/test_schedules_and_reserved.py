"""Provisioned-concurrency schedules by hour of the week, and reserved VM sizing."""

from __future__ import annotations

import pytest

from modelstack.cost.reserved import instances_needed, price_reserved
from modelstack.cost.traffic import TrafficProfile, pattern_week
from modelstack.errors import CostError
from modelstack.manifest.model import ProvisionedConcurrency, Schedule
from modelstack.providers.aws_lambda.pricing import ec2_prices
from modelstack.providers.aws_lambda.schedules import action_hours, provisioned_levels
from modelstack.providers.gcp_cloud_run.pricing import gce_prices


def test_cron_weekdays_and_time_zones() -> None:
    assert action_hours("cron(0 8 ? * MON-FRI *)") == [8, 32, 56, 80, 104]
    assert action_hours("cron(0 8 ? * 2 *)") == [8]  # 2 = Monday
    assert action_hours("cron(30 9 * * ? *)") == [9 + 24 * d for d in range(7)]
    assert action_hours("cron(0 9 ? * MON *)", "Europe/Berlin") == [8]  # UTC+1 in January
    assert action_hours("rate(12 hours)")[:3] == [0, 12, 24]
    assert action_hours("at(2026-01-01T00:00:00)") == []


@pytest.mark.parametrize(
    ("expression", "zone", "message"),
    [
        ("cron(0 25 ? * * *)", "UTC", "hour field '25' must lie in 0-23"),
        ("cron(0 8 ? * FUNDAY *)", "UTC", "day-of-week field 'FUNDAY' is not understood"),
        ("every day", "UTC", "is not cron"),
        ("cron(0 8 ? * * *)", "Mars/Olympus", "unknown time zone"),
    ],
)
def test_bad_schedules_are_refused(expression: str, zone: str, message: str) -> None:
    with pytest.raises(CostError, match=message):
        action_hours(expression, zone)


def test_levels_hold_until_the_next_action_and_wrap_the_week() -> None:
    pc = ProvisionedConcurrency(
        min=1,
        max=1,
        schedules=(
            Schedule(name="up", schedule="cron(0 8 ? * MON-FRI *)", min=5, max=10),
            Schedule(name="down", schedule="cron(0 18 ? * MON-FRI *)", min=0, max=2),
        ),
    )
    mins, maxs = provisioned_levels(pc)
    assert mins[7] == 0 and mins[8] == 5 and mins[17] == 5 and mins[18] == 0
    assert maxs[8] == 10 and maxs[18] == 2
    assert mins[5 * 24 + 12] == 0  # Saturday noon: the Friday evening action still holds
    plain = provisioned_levels(ProvisionedConcurrency(min=2, max=4))
    assert set(plain[0]) == {2} and set(plain[1]) == {4}


def test_the_cheapest_vm_that_holds_the_model_serves_the_peak() -> None:
    table = ec2_prices("us-east-1")
    # 100 requests/s at peak, 50 ms each, 60% utilisation: 100 * 0.05 / 0.6 = 8.33 vCPUs.
    profile = TrafficProfile(hourly=(360_000.0,) * 168, target_utilization=0.6)
    assert instances_needed(table.vm("c7g.large"), profile, 50) == 5
    option = price_reserved(table, profile, 50, memory_gib=2, gpu=None)
    assert option.option == "reserved"
    assert "c7g" in option.detail
    # c7g.large x5 = $0.3625/h, c7g.xlarge x3 = $0.435/h: the large ones win.
    assert option.monthly_usd == pytest.approx(5 * 0.0725 * 730)


def test_memory_and_gpu_decide_which_types_qualify() -> None:
    profile = TrafficProfile(hourly=pattern_week("flat", 1000))
    big = price_reserved(ec2_prices("us-east-1"), profile, 10, memory_gib=6, gpu=None)
    assert "c7g.xlarge" in big.detail
    gpu = price_reserved(gce_prices("us-central1"), profile, 10, memory_gib=16, gpu="nvidia-l4")
    assert "g2-standard-4" in gpu.detail
    with pytest.raises(CostError, match=r"no ec2 VM type .* has 64 GiB"):
        price_reserved(ec2_prices("us-east-1"), profile, 10, memory_gib=64, gpu=None)
