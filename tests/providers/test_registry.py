"""The provider registry and the parts of the protocol every provider answers the same way."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelstack.errors import CostError, UsageError
from modelstack.parser import build_parser
from modelstack.providers import NOT_SUPPORTED, PROVIDERS, provider_for, provider_named
from modelstack.providers.aws_lambda.target import AwsLambdaTarget
from modelstack.providers.gcp_cloud_run.target import CloudRunTarget, GpuSpec
from modelstack.providers.local.target import LocalTarget

TARGETS = {
    "aws-lambda": AwsLambdaTarget("prod", "eu-west-1"),
    "gcp-cloud-run": CloudRunTarget("run", "p", "europe-west1", concurrency=8),
    "local": LocalTarget("dev"),
}


def test_an_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"unknown provider 'acme'.*local, aws-lambda, gcp"):
        provider_named("acme")


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_each_target_finds_its_provider_and_type(name: str) -> None:
    provider = provider_for(TARGETS[name])
    assert provider is PROVIDERS[name]
    assert isinstance(TARGETS[name], provider.target_type)


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_the_next_capabilities_are_not_supported_yet(name: str) -> None:
    provider, target = PROVIDERS[name], TARGETS[name]
    assert provider.event_sources(target) is NOT_SUPPORTED


def test_cloud_providers_price_their_targets_and_the_local_one_refuses() -> None:
    declared = {n: PROVIDERS[n].prices(TARGETS[n]) for n in ("aws-lambda", "gcp-cloud-run")}
    assert {n: getattr(p, "declared", p) for n, p in declared.items()} == {
        "aws-lambda": "lambda-on-demand",
        "gcp-cloud-run": "cloud-run-request-based",
    }
    with pytest.raises(CostError, match="'dev' is a local target, which runs on this machine"):
        PROVIDERS["local"].prices(TARGETS["local"])


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_every_provider_answers_monitoring_with_a_metrics_source(name: str) -> None:
    source = PROVIDERS[name].monitoring(TARGETS[name])
    assert source is not NOT_SUPPORTED and callable(source.read)


def test_only_cloud_providers_deploy_through_pulumi() -> None:
    assert {n: p.is_cloud for n, p in PROVIDERS.items()} == {
        "local": False,
        "aws-lambda": True,
        "gcp-cloud-run": True,
    }
    assert {n: p.sdk for n, p in PROVIDERS.items()} == {
        "local": None,
        "aws-lambda": ("pulumi_aws", "aws"),
        "gcp-cloud-run": ("pulumi_gcp", "gcp"),
    }


def test_the_local_provider_has_no_cloud_parts() -> None:
    local = PROVIDERS["local"]
    with pytest.raises(UsageError, match="for cloud targets; a local target has none"):
        local.error_rate_reader(TARGETS["local"], 20)
    with pytest.raises(UsageError, match="cannot smoke-test a candidate on provider 'local'"):
        local.candidate_client(None, {})  # type: ignore[arg-type]


def test_runtime_concurrency_and_flavours_come_from_the_provider() -> None:
    gpu = CloudRunTarget("run", "p", "europe-west1", gpu=GpuSpec("nvidia-l4"))
    assert [provider_for(t).runtime_concurrency(t) for t in TARGETS.values()] == [None, 8, None]
    assert provider_for(gpu).flavour(gpu) == "cloudrun-gpu"


def test_lint_rules_keep_their_provider_id_ranges() -> None:
    ids = {n: {r.id[:3] for r in p.lint_rules()} for n, p in PROVIDERS.items()}
    assert ids == {"local": set(), "aws-lambda": {"MS3"}, "gcp-cloud-run": {"MS4"}}


def test_lint_rules_load_before_the_lint_package() -> None:
    """Asking a provider first (not `modelstack.lint`) must not trip over the import cycle."""
    root = Path(__file__).resolve().parents[2]
    probe = (
        "from modelstack.providers import PROVIDERS as P\n"
        "print(len(P['aws-lambda'].lint_rules()), len(P['gcp-cloud-run'].lint_rules()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "8 6\n"), result.stderr


def test_init_choices_and_gpu_support_come_from_the_registry() -> None:
    args = build_parser().parse_args(["init", "m.onnx", "--provider", "gcp-cloud-run"])
    assert args.provider == "gcp-cloud-run"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["init", "m.onnx", "--provider", "acme"])
    assert [n for n, p in PROVIDERS.items() if p.supports_gpu()] == ["gcp-cloud-run"]
    assert "gpu:" in PROVIDERS["gcp-cloud-run"].init_snippet(gpu=True)
    assert "gpu:" not in PROVIDERS["gcp-cloud-run"].init_snippet(gpu=False)
