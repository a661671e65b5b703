"""Measurement: CPU shares, percentiles and strategies; the real run on Docker with CPU limits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from modelstack.cost.measure import SizeTiming, percentile, strategies
from modelstack.providers.aws_lambda.pricing import lambda_vcpus

ROOT = Path(__file__).resolve().parents[2]


def test_lambda_cpu_share_follows_memory() -> None:
    assert lambda_vcpus(1769) == pytest.approx(1.0)
    assert lambda_vcpus(3538) == pytest.approx(2.0)
    assert lambda_vcpus(8845) == pytest.approx(5.0)
    assert lambda_vcpus(10240) == pytest.approx(6.0)
    assert lambda_vcpus(128) == pytest.approx(128 / 1769)


def test_percentile_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99
    assert percentile([3.0], 99) == 3.0


def timing(memory: int, p50: float, usd: float) -> SizeTiming:
    return SizeTiming(memory, memory / 1769, memory / 1769, p50, p50, 0.0, 10, usd)


def test_strategies_pick_cost_speed_and_balance() -> None:
    sizes = [timing(512, 40.0, 0.5), timing(1024, 12.0, 0.6), timing(3008, 10.0, 1.9)]
    assert strategies(sizes) == {"cost": 512, "speed": 3008, "balanced": 1024}


@pytest.mark.docker
def test_measure_runs_the_image_at_each_cpu_share(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelstack.cli import main

    bundle = tmp_path / "iris"
    shutil.copytree(
        ROOT / "examples" / "iris", bundle, ignore=shutil.ignore_patterns(".modelstack")
    )
    manifest = bundle / "modelstack.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("region: eu-west-1", "region: us-east-1"),
        encoding="utf-8",
    )
    base = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
    argv = [
        "cost",
        str(manifest),
        "-t",
        "prod",
        "--measure",
        "--requests-per-month",
        "1e6",
        "--base-image",
        base,
        "--ca-bundle",
        "/etc/ssl/certs/ca-certificates.crt",
        "--format",
        "json",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    sizes = {row["memory_mb"]: row for row in report["measurement"]["sizes"]}
    assert set(sizes) == {512, 1024, 1769, 3538, 5308, 10240}
    cpus = os.cpu_count() or 1
    for memory, row in sizes.items():
        # the engine reports the limit it applied: the size's share, at most this machine's CPUs
        assert row["applied_vcpus"] == pytest.approx(min(lambda_vcpus(memory), cpus), abs=1e-3)
        assert row["requests"] > 0 and row["p99_ms"] >= row["p50_ms"] > 0 and row["init_ms"] > 0
    assert report["duration_ms"] == sizes[1024]["p50_ms"]  # the target's own size prices it
    assert set(report["measurement"]["strategies"]) == {"cost", "speed", "balanced"}
    assert "MEMORY" in captured.err and "BEST FOR" in captured.err
    recorded = bundle / ".modelstack" / "cost" / "latency-prod.json"
    assert json.loads(recorded.read_text())["sizes"] == report["measurement"]["sizes"]
    # Without --measure or a duration, the recorded p50 is used.
    assert (
        main(
            ["cost", str(manifest), "-t", "prod", "--requests-per-month", "1e6", "--format", "json"]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["duration_ms"] == sizes[1024]["p50_ms"]
