"""The cost model asks each provider how its targets are priced (`Provider.prices`)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelstack.cli import main
from modelstack.cost.estimate import estimate_target
from modelstack.cost.options import CostLine, OptionCost
from modelstack.cost.prices import shipped_tables
from modelstack.cost.pricing import target_pricing
from modelstack.cost.recorded import latency_path, read_latency
from modelstack.cost.traffic import TrafficProfile, pattern_week
from modelstack.errors import CostError
from modelstack.manifest import load_manifest
from modelstack.providers import PROVIDERS, Provider
from modelstack.providers.aws_lambda.pricing import LAMBDA_SIZES_MB, lambda_vcpus
from modelstack.providers.aws_lambda.target import AwsLambdaTarget, ProvisionedConcurrency
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget, GpuSpec
from modelstack.providers.local.target import LocalTarget

ROOT = Path(__file__).resolve().parents[2]
LAMBDA = AwsLambdaTarget("fn", "us-east-1", memory_mb=2048)
RUN = CloudRunTarget("run", "p", "us-central1", cpu=2, memory="4Gi")


@dataclass(frozen=True)
class FakeAcmeTarget:
    name: str
    provider: Literal["acme"] = "acme"


class FakeAcmeProvider(Provider[FakeAcmeTarget]):
    """A provider that implements no `prices` hook (the protocol's default answers)."""

    name = "acme"
    target_type = FakeAcmeTarget


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    bundle = tmp_path / "iris"
    shutil.copytree(
        ROOT / "examples" / "iris", bundle, ignore=shutil.ignore_patterns(".modelstack")
    )
    return bundle / "modelstack.yaml"


def test_each_cloud_provider_names_its_declared_option() -> None:
    pc = AwsLambdaTarget("pc", "us-east-1", provisioned_concurrency=ProvisionedConcurrency())
    always = CloudRunTarget("always", "p", "us-central1", cpu_always_allocated=True)
    assert [target_pricing(t).declared for t in (LAMBDA, pc, RUN, always)] == [
        "lambda-on-demand",
        "lambda-provisioned",
        "cloud-run-request-based",
        "cloud-run-instance-based",
    ]
    assert [target_pricing(t).region for t in (LAMBDA, RUN)] == ["us-east-1", "us-central1"]


def test_the_local_provider_says_it_has_no_price() -> None:
    expected = (
        "target 'dev' is a local target, which runs on this machine's Docker engine and has no "
        "price; choose an aws-lambda or gcp-cloud-run target with --target"
    )
    with pytest.raises(CostError) as raised:
        target_pricing(LocalTarget("dev"))
    assert str(raised.value) == expected


def test_a_provider_without_prices_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(PROVIDERS, "acme", FakeAcmeProvider())
    profile = TrafficProfile(hourly=pattern_week("flat", 1000.0), duration_ms=5.0)
    with pytest.raises(CostError, match="target 'a' is a acme target, and the acme provider has"):
        estimate_target(FakeAcmeTarget("a"), profile)  # type: ignore[arg-type]


def test_measuring_a_local_target_stops_before_building(
    iris: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_docker() -> Any:
        raise AssertionError("the image must not be built for a target without a price")

    monkeypatch.setattr("modelstack.image.engine.docker_client", no_docker)
    argv = ["cost", str(iris), "-t", "local", "--measure", "--requests-per-month", "5"]
    assert main(argv) == 2
    assert "'local' is a local target" in capsys.readouterr().err
    assert not (iris.parent / ".modelstack").exists()


@given(
    memory=st.integers(min_value=128, max_value=10240),
    sizes=st.none() | st.lists(st.integers(min_value=128, max_value=10240), max_size=8),
)
def test_lambda_measures_its_sizes_and_its_own_at_their_cpu_share(
    memory: int, sizes: list[int] | None
) -> None:
    plan = target_pricing(AwsLambdaTarget("fn", "us-east-1", memory_mb=memory)).measure_sizes(sizes)
    wanted = set(LAMBDA_SIZES_MB if sizes is None else sizes) | {memory}
    assert [m for m, _ in plan] == sorted(wanted)
    assert all(vcpus == lambda_vcpus(m) for m, vcpus in plan)


def test_cloud_run_measures_the_shape_it_declares() -> None:
    pricing = target_pricing(RUN)
    assert pricing.measure_sizes(None) == pricing.measure_sizes([512, 1024]) == [(4096, 2.0)]
    assert pricing.size_mb is None
    assert pricing.measure_cost([])(4096, 30.0) == 0.0


def test_lambda_prices_a_measured_size_per_million_requests() -> None:
    # 12.1 ms bills 13 ms: $0.20 of requests + 1e6 x 0.013 s x 2 GB x $0.0000166667 = $0.6333
    usd = target_pricing(LAMBDA).measure_cost([])(2048, 12.1)
    assert usd == pytest.approx(0.2 + 1e6 * 0.013 * 2 * 0.0000166667)


def test_the_declared_cost_goes_on_the_resources_that_incur_it() -> None:
    option = OptionCost(
        "lambda-provisioned",
        (
            CostLine("provisioned concurrency", 1.0, "GB-s", 7.5),
            CostLine("requests", 1.0, "requests", 2.5),
        ),
    )
    assert target_pricing(LAMBDA).by_resource(option) == {
        "aws:lambda/function:Function": 2.5,
        "aws:lambda/provisionedConcurrencyConfig:ProvisionedConcurrencyConfig": 7.5,
    }
    on_demand = OptionCost("lambda-on-demand", (CostLine("requests", 1.0, "requests", 2.5),))
    assert target_pricing(LAMBDA).by_resource(on_demand) == {"aws:lambda/function:Function": 2.5}
    gpu = CloudRunTarget("g", "p", "us-central1", gpu=GpuSpec("nvidia-l4"))
    assert target_pricing(gpu).by_resource(option) == {"gcp:cloudrunv2/service:Service": 10.0}


def test_every_file_in_a_providers_prices_folder_is_a_shipped_table() -> None:
    folders = [p / "prices" for p in files("modelstack").joinpath("providers").iterdir()]
    on_disk = {
        f.name for d in folders if d.is_dir() for f in d.iterdir() if f.name.endswith(".json")
    }
    services = ("aws-lambda", "ec2", "gcp-cloud-run", "gce")
    assert {t.origin for s in services for t in shipped_tables(s)} == on_disk
    assert len(on_disk) == 7


def test_a_recorded_latency_is_read_at_the_targets_size(iris: Path) -> None:
    manifest = load_manifest(str(iris))
    record = {
        "sizes": [{"memory_mb": 1024, "p50_ms": 4.5}, {"memory_mb": 2048, "p50_ms": 2.25}],
        "target_p50_ms": 9.0,
    }
    for target in (LAMBDA, RUN, AwsLambdaTarget("other", "us-east-1", memory_mb=3008)):
        path = latency_path(manifest, target)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record), encoding="utf-8")
    assert read_latency(manifest, LAMBDA) == 2.25  # the row of its memory size
    assert read_latency(manifest, RUN) == 9.0  # one size: the target's p50
    other = AwsLambdaTarget("other", "us-east-1", memory_mb=3008)
    assert read_latency(manifest, other) == 9.0  # not measured at its size: the target's p50
