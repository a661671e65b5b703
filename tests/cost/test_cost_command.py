"""`modelstack cost` end to end: the JSON contract, profiles, charts and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from modelstack.cli import main

ROOT = Path(__file__).resolve().parents[2]
OPTION_NAMES = {
    "lambda-on-demand",
    "lambda-provisioned",
    "cloud-run-request-based",
    "cloud-run-instance-based",
    "reserved",
}

CLOUD = """\
targets:
  aws:
    provider: aws-lambda
    region: us-east-1
    memory_mb: 1769
    provisioned_concurrency: {min: 1, max: 4}
  run:
    provider: gcp-cloud-run
    project: my-project
    region: us-central1
    cpu: 1
    memory: 2Gi
  gpu:
    provider: gcp-cloud-run
    project: my-project
    region: us-central1
    cpu: 4
    memory: 16Gi
    gpu: {type: nvidia-l4}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """The iris example with cloud targets in priced regions, copied without its state."""
    bundle = tmp_path / "iris"
    shutil.copytree(
        ROOT / "examples" / "iris", bundle, ignore=shutil.ignore_patterns(".modelstack")
    )
    path = bundle / "modelstack.yaml"
    text = path.read_text(encoding="utf-8")
    start, end = text.index("targets:"), text.index("rollout:")
    path.write_text(text[:start] + CLOUD + text[end:], encoding="utf-8")
    return path


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["cost", *argv, "--format", "json"]) == 0
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def test_the_flat_contract_for_a_lambda_target(manifest: Path, capsys: Any) -> None:
    report = run_json(
        capsys,
        str(manifest),
        "--target",
        "aws",
        "--requests-per-month",
        "3000000",
        "--duration-ms",
        "1000",
    )
    names = [o["option"] for o in report["options"]]
    assert names == ["lambda-on-demand", "lambda-provisioned", "reserved"]
    assert report["region"] == "us-east-1" and report["price_date"] == "2026-08-19"
    on_demand = report["options"][0]
    # 3M x 1 s x 1769/1024 GB = 5,182,617 GB-s; less 400,000 free; 2M billable requests.
    expected = (3e6 * 1769 / 1024 - 400_000) * 0.0000166667 + 2e6 * 0.0000002
    assert on_demand["monthly_usd"] == pytest.approx(round(expected, 2), abs=0.01)
    assert report["declared"] == "lambda-provisioned"


def test_no_free_tier_raises_the_on_demand_price(manifest: Path, capsys: Any) -> None:
    argv = [str(manifest), "-t", "aws", "--requests-per-month", "100000", "--duration-ms", "50"]
    free = run_json(capsys, *argv)["options"][0]
    paid = run_json(capsys, *argv, "--no-free-tier")["options"][0]
    assert free["monthly_usd"] == 0 and paid["monthly_usd"] > 0 and paid["free_tier_usd"] == 0


def test_cloud_run_options_and_gpu(manifest: Path, capsys: Any) -> None:
    argv = ["--requests-per-month", "1000000", "--duration-ms", "30"]
    cpu = run_json(capsys, str(manifest), "-t", "run", *argv)
    assert {o["option"] for o in cpu["options"]} == {
        "cloud-run-request-based",
        "cloud-run-instance-based",
        "reserved",
    }
    gpu = run_json(capsys, str(manifest), "-t", "gpu", *argv)
    assert [o["option"] for o in gpu["options"]] == ["cloud-run-instance-based", "reserved"]
    assert any("instance-based billing" in n for n in gpu["notes"])
    assert {o["option"] for o in gpu["options"]} <= OPTION_NAMES


def test_break_even_is_where_reserved_becomes_cheaper(manifest: Path, capsys: Any) -> None:
    report = run_json(
        capsys, str(manifest), "-t", "run", "--requests-per-month", "1000", "--duration-ms", "100"
    )
    point = report["break_even_requests_per_month"]
    assert point is not None and point > 1000
    below = run_json(
        capsys,
        str(manifest),
        "-t",
        "run",
        "--requests-per-month",
        str(point * 0.9),
        "--duration-ms",
        "100",
    )
    above = run_json(
        capsys,
        str(manifest),
        "-t",
        "run",
        "--requests-per-month",
        str(point * 1.1),
        "--duration-ms",
        "100",
    )

    def cost(r: dict[str, Any], name: str) -> float:
        return float(next(o["monthly_usd"] for o in r["options"] if o["option"] == name))

    assert cost(below, "reserved") >= cost(below, "cloud-run-request-based")
    assert cost(above, "reserved") < cost(above, "cloud-run-request-based")


def test_a_traffic_csv_and_a_manifest_section(manifest: Path, capsys: Any, tmp_path: Path) -> None:
    counts = tmp_path / "week.csv"
    counts.write_text("".join("3600\n" for _ in range(168)), encoding="utf-8")
    report = run_json(
        capsys, str(manifest), "-t", "aws", "--traffic", str(counts), "--duration-ms", "10"
    )
    assert report["requests_per_month"] == pytest.approx(3600 * 730)
    assert report["peak_requests_per_second"] == pytest.approx(1.0)
    text = manifest.read_text(encoding="utf-8")
    section = (
        "traffic:\n  pattern: business-hours\n  requests_per_month: 500000\n  duration_ms: 12\n"
    )
    manifest.write_text(text + section, encoding="utf-8")
    report = run_json(capsys, str(manifest), "-t", "aws")
    assert report["duration_ms"] == 12 and report["requests_per_month"] == pytest.approx(500000)


def test_markdown_and_text(manifest: Path, capsys: Any) -> None:
    argv = ["cost", str(manifest), "-t", "aws", "--requests-per-month", "1e6", "--duration-ms", "5"]
    assert main([*argv, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| lambda-on-demand |" in out and "| option | monthly |" in out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "lambda-provisioned (declared)" in out and "requests/month" in out


def test_an_svg_chart(manifest: Path, capsys: Any, tmp_path: Path) -> None:
    chart = tmp_path / "cost.svg"
    argv = ["cost", str(manifest), "-t", "aws", "--requests-per-month", "1e6", "--duration-ms", "5"]
    assert main([*argv, "--chart", str(chart)]) == 0
    assert chart.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert "lambda-on-demand" in chart.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-t", "aws"], "no traffic: section"),
        (["-t", "aws", "--requests-per-month", "1000"], "no latency to price with"),
        (["-t", "aws", "--requests-per-month", "-5", "--duration-ms", "1"], "finite number"),
        (["-t", "aws", "--requests-per-month", "5", "--duration-ms", "0"], "more than 0"),
        (["-t", "nope", "--requests-per-month", "5", "--duration-ms", "1"], "no target 'nope'"),
        (["-t", "aws", "--traffic", "missing.csv", "--duration-ms", "1"], "cannot read"),
        (
            ["-t", "aws", "--requests-per-month", "5", "--duration-ms", "1", "--chart", "c.gif"],
            "must end in .png or .svg",
        ),
    ],
)
def test_bad_input_exits_2_with_a_reason(
    manifest: Path, capsys: Any, extra: list[str], message: str
) -> None:
    assert main(["cost", str(manifest), *extra]) == 2
    assert message in capsys.readouterr().err


def test_an_unpriced_region_is_a_clear_error(manifest: Path, capsys: Any) -> None:
    text = manifest.read_text(encoding="utf-8").replace("region: us-east-1", "region: ap-south-7")
    manifest.write_text(text, encoding="utf-8")
    assert (
        main(
            ["cost", str(manifest), "-t", "aws", "--requests-per-month", "5", "--duration-ms", "1"]
        )
        == 2
    )
    assert "no aws-lambda price table for region 'ap-south-7'" in capsys.readouterr().err


def test_a_prices_file_overrides_the_shipped_table(
    manifest: Path, capsys: Any, tmp_path: Path
) -> None:
    table = {
        "kind": "serverless",
        "provider": "aws-lambda",
        "region": "us-east-1",
        "date": "2026-11-01",
        "prices": {
            name: {"usd": 0.0, "source": "https://example.com"}
            for name in (
                "request",
                "duration_x86_64",
                "provisioned_x86_64",
                "provisioned_duration_x86_64",
                "ephemeral_storage",
            )
        },
    }
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps(table), encoding="utf-8")
    report = run_json(
        capsys,
        str(manifest),
        "-t",
        "aws",
        "--requests-per-month",
        "1e8",
        "--duration-ms",
        "100",
        "--prices",
        str(prices),
    )
    assert report["price_date"] == "2026-11-01"
    assert report["options"][0]["monthly_usd"] == 0


def test_a_chart_without_the_plot_extra_says_what_to_install(
    manifest: Path, capsys: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    argv = ["cost", str(manifest), "-t", "aws", "--requests-per-month", "1e6", "--duration-ms", "5"]
    assert main([*argv, "--chart", str(tmp_path / "c.png")]) == 2
    assert "pip install 'modelstack-serverless[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "c.png").exists()
    assert main(argv) == 0  # the text report carries a text chart instead
    assert "monthly cost against requests per month" in capsys.readouterr().out


def test_a_yaml_traffic_file_is_checked_against_the_schema(
    manifest: Path, capsys: Any, tmp_path: Path
) -> None:
    good = tmp_path / "traffic.yaml"
    good.write_text("pattern: spiky\nrequests_per_month: 730000\nduration_ms: 7\n", "utf-8")
    report = run_json(capsys, str(manifest), "-t", "aws", "--traffic", str(good))
    assert report["duration_ms"] == 7
    assert report["peak_requests_per_second"] == pytest.approx(
        730000 / 730 * 24 * 10 / (23 + 10) / 3600
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("requests_per_month: -3\n", "utf-8")
    assert main(["cost", str(manifest), "-t", "aws", "--traffic", str(bad)]) == 2
    assert "traffic requests_per_month: -3 is less than the minimum of 0" in capsys.readouterr().err


def test_a_local_target_has_no_price(manifest: Path, capsys: Any) -> None:
    text = manifest.read_text(encoding="utf-8").replace(
        "targets:\n", "targets:\n  dev: {provider: local}\n"
    )
    manifest.write_text(text, encoding="utf-8")
    assert (
        main(
            ["cost", str(manifest), "-t", "dev", "--requests-per-month", "5", "--duration-ms", "1"]
        )
        == 2
    )
    assert "is a local target" in capsys.readouterr().err


def test_gpu_zonal_redundancy_is_priced_both_ways(manifest: Path, capsys: Any) -> None:
    report = run_json(
        capsys, str(manifest), "-t", "gpu", "--requests-per-month", "1000", "--duration-ms", "20"
    )
    instance = report["options"][0]
    gpu = next(line for line in instance["lines"] if line["item"].startswith("GPU"))
    assert "zonal" not in gpu["item"]
    other = instance["notes"][0]
    assert other.startswith("with GPU zonal redundancy on: $")
    on = float(other.rsplit("$", 1)[1].replace(",", ""))
    assert on - instance["monthly_usd"] == pytest.approx(
        gpu["quantity"] * (0.0002909 - 0.0001867), abs=0.02
    )


def test_no_vm_big_enough_is_a_note_not_a_failure(manifest: Path, capsys: Any) -> None:
    text = manifest.read_text(encoding="utf-8").replace("memory_mb: 1769", "memory_mb: 10240")
    manifest.write_text(text, encoding="utf-8")
    report = run_json(
        capsys, str(manifest), "-t", "aws", "--requests-per-month", "1000", "--duration-ms", "20"
    )
    assert "reserved" not in {o["option"] for o in report["options"]}
    assert any("has 10 GiB without a GPU" in n for n in report["notes"])
