"""Cloud Run formulas, worked by hand from the unit prices on cloud.google.com/run/pricing."""

from __future__ import annotations

import pytest

from modelstack.cost.traffic import TrafficProfile, pattern_week
from modelstack.manifest.model import CloudRunTarget, GpuSpec
from modelstack.providers.gcp_cloud_run.billing import (
    CloudRunUsage,
    instance_usage,
    price_instance_based,
    price_request_based,
    request_usage,
)
from modelstack.providers.gcp_cloud_run.pricing import cloud_run_prices

PRICES = cloud_run_prices("us-central1")


def test_request_based_10m_requests_of_200ms_1_vcpu_512mib() -> None:
    # vCPU: 2,000,000 - 180,000 free = 1,820,000 x $0.000024 = $43.68
    # memory: 1,000,000 - 360,000 free = 640,000 x $0.0000025 = $1.60
    # requests: 10M - 2M free = 8M x $0.40/M = $3.20; total $48.48 ($48 + $2.50 + $4 = $54.50
    # without the free tier)
    target = CloudRunTarget(name="t", project="p", region="us-central1", cpu=1, memory="512Mi")
    profile = TrafficProfile(hourly=pattern_week("flat", 10_000_000), duration_ms=200)
    usage = request_usage(target, profile, 200)
    assert usage.vcpu_seconds == pytest.approx(2_000_000)
    assert usage.gib_seconds == pytest.approx(1_000_000)
    option = price_request_based(usage, PRICES)
    assert round(option.monthly_usd, 2) == 48.48
    assert round(price_request_based(usage, PRICES, free_tier=False).monthly_usd, 2) == 54.50


def test_request_based_rounds_each_request_up_to_100ms() -> None:
    target = CloudRunTarget(name="t", project="p", region="us-central1")
    profile = TrafficProfile(hourly=pattern_week("flat", 1000), duration_ms=120)
    assert request_usage(target, profile, 120).vcpu_seconds == pytest.approx(1000 * 0.2)


def test_instance_based_l4_always_on_for_a_month() -> None:
    # 730 h = 2,628,000 s. vCPU: 4 x 2,628,000 - 240,000 = 10,272,000 x $0.000018 = $184.896
    # memory: 16 x 2,628,000 - 450,000 = 41,598,000 x $0.000002 = $83.196
    # GPU: 2,628,000 x $0.0001867 = $490.6476; total $758.74
    usage = CloudRunUsage(
        requests=0, vcpu_seconds=4 * 2_628_000, gib_seconds=16 * 2_628_000, gpu_seconds=2_628_000
    )
    option = price_instance_based(usage, PRICES, gpu="nvidia-l4")
    assert round(option.monthly_usd, 2) == 758.74
    zonal = price_instance_based(usage, PRICES, gpu="nvidia-l4", zonal_redundancy=True)
    gpu_line = next(line for line in zonal.lines if line.item.startswith("GPU"))
    assert round(gpu_line.usd, 2) == round(2_628_000 * 0.0002909, 2) == 764.49


def test_min_instances_are_billed_while_idle() -> None:
    target = CloudRunTarget(
        name="t", project="p", region="us-central1", cpu=2, memory="1Gi", min_instances=1
    )
    idle = TrafficProfile(hourly=(0.0,) * 168, duration_ms=100)
    usage = request_usage(target, idle, 100)
    assert usage.idle_vcpu_seconds == pytest.approx(2 * 730 * 3600)
    option = price_request_based(usage, PRICES, free_tier=False)
    assert option.monthly_usd == pytest.approx(730 * 3600 * (2 + 1) * 0.0000025)
    alive = instance_usage(target, idle, 100)
    assert alive.vcpu_seconds == pytest.approx(2 * 730 * 3600)


def test_instance_based_scales_with_the_busy_hours() -> None:
    target = CloudRunTarget(
        name="t",
        project="p",
        region="us-central1",
        cpu=4,
        memory="16Gi",
        gpu=GpuSpec(type="nvidia-l4"),
        concurrency=4,
    )
    week = [0.0] * 168
    week[0] = 3600 * 40.0  # 40 requests/s of 250 ms: 10 busy, 3 instances at concurrency 4
    usage = instance_usage(target, TrafficProfile(hourly=tuple(week)), 250)
    assert usage.gpu_seconds == pytest.approx(3 * 3600 * 730 / 168)
