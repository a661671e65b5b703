"""`modelstack evaluate --against` a cloud target: the address comes from the stack outputs the
real inline program produces (under Pulumi's mocks, through `FakeAutomationStack`), and the
model behind it is the real runtime in this process, as in the cloud engine's tests: for Lambda
behind the `live` alias, for Cloud Run behind the service URL over real HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fake_automation import FakeAutomationStack
from routerkit import FakeFunctionRuntime, port_of, running_router

from modelstack.deploy.release import Release
from modelstack.deploy.state import StateStore
from modelstack.errors import InfrastructureError, UsageError
from modelstack.evaluate import evaluate_manifest
from modelstack.evaluate.endpoints import endpoint_client
from modelstack.image.containers import free_port
from modelstack.manifest import Manifest, load_manifest
from modelstack.providers.local.routes import Revision, Routes
from modelstack.smoke.candidate import candidate_client
from modelstack.smoke.clients import HttpClient, InferenceClient, InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack_runtime.dataplane import load_dataplane

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/digits-mlp-prod@sha256:" + "1" * 64
CLOUD_TARGETS = """\
targets:
  prod:
    provider: aws-lambda
    region: eu-west-1
    memory_mb: 1024
  run:
    provider: gcp-cloud-run
    project: vision-prod-4821
    region: us-central1
"""


@pytest.fixture
def digits(tmp_path: Path) -> Manifest:
    """examples/digits-mlp (it has an evaluation section) with a Lambda and a Cloud Run target."""
    bundle = tmp_path / "digits"
    shutil.copytree(
        ROOT / "examples" / "digits-mlp", bundle, ignore=shutil.ignore_patterns(".modelstack")
    )
    path = bundle / "modelstack.yaml"
    path.write_text(path.read_text().replace("targets:\n", CLOUD_TARGETS, 1))
    return load_manifest(path)


def deployed(manifest: Manifest, target: str, image: str) -> FakeAutomationStack:
    stack = FakeAutomationStack(manifest, target)
    config = {"image": image, "stable_version": "", "candidate_percent": "100",
              "registry_only": "false", "deletion_protection": ""}  # fmt: skip
    stack.up(config, lambda line: None)
    return stack


class Addressed:
    """A client factory that keeps the address it was given and serves the real runtime."""

    def __init__(self, client: InferenceClient) -> None:
        self.client = client
        self.addresses: list[dict[str, Any]] = []

    def __call__(self, manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
        self.addresses.append(dict(address))
        return self.client


def test_lambda_is_evaluated_through_the_live_alias(
    digits: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3's Invoke call, as production makes it, reaches the real runtime's Lambda handler
    through the local Invoke API (the cloud's stand-in) and a function runtime loop."""
    from modelstack_runtime.lambda_handler import LambdaAdapter

    for variable, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(variable, value)
    stack = deployed(digits, "prod", IMAGE)
    candidate = stack.outputs()["candidate_address"]
    api_port = free_port()
    routes = Routes("lambda", candidate["function_name"], 1, (Revision("9", 100, (), api_port),))
    handler = LambdaAdapter(load_dataplane(prepare_local(digits).config))
    addresses: list[dict[str, Any]] = []

    def through_the_invoke_api(manifest: Manifest, address: Mapping[str, Any]) -> Any:
        addresses.append(dict(address))
        local = {**address, "endpoint_url": f"http://127.0.0.1:{port_of(server)}"}
        return candidate_client(manifest, local)  # the smoke tests' own Lambda client

    with running_router(tmp_path, routes) as server:
        server.router.reload()
        runtime = FakeFunctionRuntime(f"127.0.0.1:{api_port}", handler)
        client = endpoint_client(
            digits, "prod", outputs=stack.outputs, client_factory=through_the_invoke_api
        )
        try:
            result = evaluate_manifest(digits, target="prod", client=client)
        finally:
            client.close()
    (address,) = addresses
    assert address == {**candidate, "qualifier": "live"}  # the alias, not the new version
    assert candidate["qualifier"] != "live"
    assert address["provider"] == "aws-lambda" and address["region"] == "eu-west-1"
    assert runtime.events and all("inputs" in event for event in runtime.events)
    assert result.candidate.metrics["accuracy"] >= 0.95
    # Every gate but latency, which measures this machine, not the path under test.
    assert all(gate.passed for gate in result.gates if not gate.metric.endswith("_ms"))


def test_cloud_run_is_evaluated_through_the_service_url(digits: Manifest) -> None:
    from modelstack_runtime.http_server import RuntimeServer

    image = "us-central1-docker.pkg.dev/vision-prod-4821/digits-mlp-run/digits-mlp@sha256:" + (
        "2" * 64
    )
    stack = deployed(digits, "run", image)
    server = RuntimeServer(prepare_local(digits).config)  # the image's HTTP runtime
    server.start()
    server.load()
    try:
        factory = Addressed(HttpClient(f"http://127.0.0.1:{server.port}", digits.name))
        client = endpoint_client(digits, "run", outputs=stack.outputs, client_factory=factory)
        try:
            result = evaluate_manifest(digits, target="run", client=client)
        finally:
            client.close()
    finally:
        server.stop(grace_s=5.0)
    (address,) = factory.addresses
    outputs = stack.outputs()
    assert address == {"provider": "gcp-cloud-run", "url": outputs["endpoint"]}
    assert address["url"] != outputs["candidate_address"]["url"]  # not the tag URL
    assert result.candidate.metrics["accuracy"] >= 0.95


def test_a_stack_that_serves_nothing_says_how_to_deploy(digits: Manifest) -> None:
    empty = FakeAutomationStack(digits, "prod")
    with pytest.raises(InfrastructureError, match="its stack serves nothing yet; deploy it"):
        endpoint_client(digits, "prod", outputs=empty.outputs)


def test_an_unknown_target_is_a_usage_error(digits: Manifest) -> None:
    with pytest.raises(UsageError, match="no target 'nope'"):
        endpoint_client(digits, "nope", outputs=dict)


def test_drift_against_the_recorded_result_fails_max_drop(
    digits: Manifest, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scheduled `evaluate --against prod`: the serving release recorded a better accuracy
    at deploy time than the endpoint gives now, so max_drop fails and the job exits 1."""
    from modelstack.cli import main

    stack = deployed(digits, "prod", IMAGE)
    first = evaluate_manifest(digits)
    record = {**first.candidate.to_dict(), "metrics": {**first.candidate.metrics,
                                                         "accuracy": 1.0}}  # fmt: skip
    store = StateStore(digits.directory, "prod")
    stable = Release("7", IMAGE, "1.0.0", "m" * 64, "f" * 64, evaluation=record)
    store.save(store.load().with_(stable=stable))
    real = InProcessClient(load_dataplane(prepare_local(digits).config), digits.name)
    monkeypatch.setattr(
        "modelstack.commands.evaluate.endpoint_client",
        lambda manifest, name, **where: endpoint_client(
            manifest, name, outputs=stack.outputs, client_factory=Addressed(real)
        ),
    )
    code = main(["evaluate", str(digits.path), "--against", "prod"])
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "serving version 7" in out
    assert "FAIL  accuracy max_drop 0.005" in out


def test_without_the_pulumi_cli_the_stack_cannot_be_read_and_it_says_what_to_install(
    digits: Manifest, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelstack.cli import main

    monkeypatch.setenv("PATH", str(digits.directory))  # no `pulumi` on it
    code = main(["evaluate", str(digits.path), "--against", "prod", "--stack", "eu"])
    assert code == 3
    assert "Pulumi CLI" in capsys.readouterr().err
