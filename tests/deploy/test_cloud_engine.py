"""The cloud orchestration: the real rollout, the real PulumiEngine and inline program, the
real ModelService component under Pulumi's mocks, through `FakeAutomationStack`. Candidates
are served by the real runtime in-process, since no cloud can be reached from the tests."""

from __future__ import annotations

import io
import os
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from example_copies import copy_example
from fake_automation import FakeAutomationStack
from fake_engine import FakeRegressedClient

from modelstack.deploy.cloud import PulumiEngine
from modelstack.deploy.progress import Progress
from modelstack.deploy.release import Release
from modelstack.deploy.rollout import roll_out
from modelstack.deploy.state import StateStore
from modelstack.errors import InfrastructureError, SmokeTestError
from modelstack.manifest import load_manifest
from modelstack.providers.aws_lambda.metrics import CloudWatchErrorRate
from modelstack.smoke.clients import InferenceClient

ROOT = Path(__file__).resolve().parents[2]

DIGEST_1 = "sha256:" + "1" * 64
DIGEST_2 = "sha256:" + "2" * 64
REPO = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-prod"


def release(digest: str) -> Release:
    return Release("0", f"{REPO}@{digest}", "1.0.0", "m" * 64, "f" * 64)


def config(image: str, stable: str, percent: int) -> dict[str, str]:
    """The stack config of a full (not registry-only) update."""
    return {
        "image": image,
        "stable_version": stable,
        "candidate_percent": str(percent),
        "registry_only": "false",
        "deletion_protection": "",
    }


@pytest.fixture
def stack(iris) -> FakeAutomationStack:
    return FakeAutomationStack(iris, "prod")


@pytest.fixture
def metrics(cloudwatch: Any) -> CloudWatchErrorRate:
    """The real CloudWatch reader against moto: no traffic recorded, so no signal."""
    return CloudWatchErrorRate("eu-west-1", 20, client=cloudwatch)


@pytest.fixture
def engine_for(metrics: CloudWatchErrorRate):
    def make(iris, stack, client: InferenceClient, seen: list[dict]) -> PulumiEngine:
        def factory(manifest, address):
            seen.append(dict(address))
            return client

        return PulumiEngine(iris, "prod", stack, client_factory=factory, metrics=metrics)

    return make


def test_first_lambda_deploy_then_a_canary_update(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, engine_for
) -> None:
    addresses: list[dict] = []
    engine = engine_for(iris, stack, iris_client, addresses)
    store = StateStore(iris_bundle, "prod")
    progress = Progress(stream=io.StringIO())
    roll_out(
        engine, store, release(DIGEST_1), iris_cases, iris.rollout, progress, sleep=lambda s: None
    )
    first = store.load().stable
    assert first is not None and first.digest == DIGEST_1
    assert stack.updates[0] == config(f"{REPO}@{DIGEST_1}", "", 100)

    roll_out(
        engine, store, release(DIGEST_2), iris_cases, iris.rollout, progress, sleep=lambda s: None
    )
    percents = [u["candidate_percent"] for u in stack.updates[1:]]
    assert percents == ["0", "10", "50", "100", "100"]
    assert all(u["stable_version"] == first.version for u in stack.updates[1:5])
    # Pre-traffic smoke tests went to the Lambda version the stack reported, by qualifier.
    second = store.load().stable
    assert (first.version, second.version) == ("1", "2")
    assert [a["provider"] for a in addresses] == ["aws-lambda"] * 4
    assert [a["qualifier"] for a in addresses] == ["1", "2", "2", "2"]
    # While the canary ran, the alias carried the weights and provisioned concurrency stayed
    # on the version.
    during = stack.resources[2]
    alias = next(r for r in during if r.type.endswith("lambda/alias:Alias"))
    assert alias.inputs["routingConfig"]["additionalVersionWeights"]
    provisioned = next(r for r in during if r.type.endswith("ProvisionedConcurrencyConfig"))
    assert provisioned.inputs["qualifier"] != "live"


def test_a_candidate_failing_smoke_tests_leaves_the_stack_on_stable(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, engine_for
) -> None:
    engine = engine_for(iris, stack, iris_client, [])
    store = StateStore(iris_bundle, "prod")
    progress = Progress(stream=io.StringIO())
    roll_out(
        engine, store, release(DIGEST_1), iris_cases, iris.rollout, progress, sleep=lambda s: None
    )

    engine.client_factory = lambda manifest, address: FakeRegressedClient(iris_client)
    with pytest.raises(SmokeTestError):
        roll_out(
            engine,
            store,
            release(DIGEST_2),
            iris_cases,
            iris.rollout,
            progress,
            sleep=lambda s: None,
        )
    last = stack.updates[-1]
    assert last["image"].endswith(DIGEST_1) and last["candidate_percent"] == "100"
    assert not any(u["candidate_percent"] in ("10", "50") for u in stack.updates)
    assert store.load().stable.digest == DIGEST_1


def test_a_first_deploy_creates_the_registry_then_pushes_then_deploys(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, engine_for
) -> None:
    """An empty account has no repository to push to: the registry-only update comes first."""
    engine = engine_for(iris, stack, iris_client, [])
    with pytest.raises(InfrastructureError, match="does not exist"):
        stack.push(f"{REPO}@{DIGEST_1}")  # the order the first release used

    engine.prepare_registry()
    stack.push(f"{REPO}@{DIGEST_1}")
    roll_out(
        engine,
        StateStore(iris_bundle, "prod"),
        release(DIGEST_1),
        iris_cases,
        iris.rollout,
        Progress(stream=io.StringIO()),
        sleep=lambda s: None,
    )
    assert stack.events == ["up registry-only", "push", "up"]
    registry_only = {r.type for r in stack.resources[0] if r.custom}
    assert registry_only == {
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    }
    # The repository is the same resource in both updates, so it is kept, not replaced.
    repo_urns = [
        next(r.urn for r in update if r.type == "aws:ecr/repository:Repository")
        for update in stack.resources
    ]
    assert repo_urns[0] == repo_urns[1]

    engine.prepare_registry()  # a later deploy: the repository exists, nothing is applied
    assert stack.events == ["up registry-only", "push", "up"]


def test_a_failed_first_deploy_removes_what_serves_and_destroy_then_succeeds(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, metrics
) -> None:
    engine = PulumiEngine(
        iris,
        "prod",
        stack,
        client_factory=lambda m, a: FakeRegressedClient(iris_client),
        metrics=metrics,
    )
    engine.prepare_registry()
    stack.push(f"{REPO}@{DIGEST_1}")
    store = StateStore(iris_bundle, "prod")
    with pytest.raises(SmokeTestError):
        roll_out(
            engine,
            store,
            release(DIGEST_1),
            iris_cases,
            iris.rollout,
            Progress(stream=io.StringIO()),
            sleep=lambda s: None,
        )
    assert store.load().stable is None and store.load().candidate is None
    # Nothing serves; the repository and the pushed image stay for the next try.
    assert stack.events == ["up registry-only", "push", "up", "up registry-only"]
    assert {r.type for r in stack.live if r.custom} == {
        "aws:ecr/repository:Repository",
        "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    }
    assert stack.images[REPO] == [f"{REPO}@{DIGEST_1}"]
    assert engine.adopt() is None

    engine.destroy()  # `modelstack destroy`: ECR refuses a repository with images unless forced
    assert stack.destroyed and stack.images == {}


def test_a_failed_first_cloud_run_deploy_lifts_deletion_protection_to_remove_the_service(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "digits"
    copy_example("digits-gpu", bundle)
    digits = load_manifest(bundle / "modelstack.yaml")
    target = next(name for name, t in digits.targets.items() if t.provider == "gcp-cloud-run")
    assert digits.targets[target].deletion_protection  # the default this test is about
    stack = FakeAutomationStack(digits, target)
    engine = PulumiEngine(digits, target, stack)
    engine.prepare_registry()
    image = f"{stack.outputs()['registry']}/digits@{DIGEST_1}"
    stack.push(image)
    candidate = Release("0", image, "1.0.0", "m" * 64, "f" * 64)
    engine.deploy_candidate(candidate, None)

    engine.abandon(None, candidate)
    assert stack.events == ["up registry-only", "push", "up", "up", "up registry-only"]
    assert stack.updates[-2]["deletion_protection"] == "false"
    assert {r.type for r in stack.live if r.custom} == {
        "gcp:artifactregistry/repository:Repository"
    }
    engine.destroy()
    assert stack.destroyed


def test_a_canary_step_over_the_cloudwatch_error_rate_fails_and_rolls_back(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, cloudwatch
) -> None:
    clock = FakeClock()
    out = io.StringIO()
    engine = PulumiEngine(
        iris,
        "prod",
        stack,
        client_factory=lambda m, a: iris_client,
        metrics=CloudWatchErrorRate("eu-west-1", 20, client=cloudwatch),
        clock=clock,
        on_output=Progress(stream=out).note,
    )
    store = StateStore(iris_bundle, "prod")
    roll_out(
        engine,
        store,
        release(DIGEST_1),
        iris_cases,
        iris.rollout,
        Progress(stream=out),
        sleep=clock.sleep,
    )

    def traffic_then_wait(seconds: float) -> None:
        # Version 2 answers 40 requests in the 10% step, 3 of them failing (7.5% > 1%).
        put_lambda_metrics(cloudwatch, "2", clock.now() + seconds / 2, invocations=40, errors=3)
        clock.sleep(seconds)

    with pytest.raises(SmokeTestError, match=r"failed 7\.5% of its requests"):
        roll_out(
            engine,
            store,
            release(DIGEST_2),
            iris_cases,
            iris.rollout,
            Progress(stream=out),
            sleep=traffic_then_wait,
        )
    percents = [u["candidate_percent"] for u in stack.updates[1:]]
    assert percents == ["0", "10", "100"]  # never reached 50%
    assert stack.updates[-1] == config(f"{REPO}@{DIGEST_1}", "", 100)
    assert store.load().stable.digest == DIGEST_1
    assert "3 of 40 request(s) failed" in out.getvalue()


def test_too_little_traffic_is_no_signal_not_a_healthy_step(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, cloudwatch
) -> None:
    clock = FakeClock()
    out = io.StringIO()
    engine = PulumiEngine(
        iris,
        "prod",
        stack,
        client_factory=lambda m, a: iris_client,
        metrics=CloudWatchErrorRate("eu-west-1", 20, client=cloudwatch),
        clock=clock,
        on_output=Progress(stream=out).note,
    )
    store = StateStore(iris_bundle, "prod")
    roll_out(
        engine,
        store,
        release(DIGEST_1),
        iris_cases,
        iris.rollout,
        Progress(stream=out),
        sleep=clock.sleep,
    )

    def little_traffic(seconds: float) -> None:
        put_lambda_metrics(cloudwatch, "2", clock.now() + seconds / 2, invocations=5, errors=5)
        clock.sleep(seconds)

    roll_out(
        engine,
        store,
        release(DIGEST_2),
        iris_cases,
        iris.rollout,
        Progress(stream=out),
        sleep=little_traffic,
    )
    text = out.getvalue()
    # iris waits 30 s per step; CloudWatch resolves minutes, so the 50% step also counts the
    # 10% step's five requests: still under 20.
    assert "error rate: no signal (5 request(s) in the interval, fewer than 20" in text
    assert "error rate: no signal (10 request(s) in the interval, fewer than 20" in text
    assert text.count("no error-rate signal for this step; the smoke tests decide it") == 2
    assert store.load().stable.digest == DIGEST_2


def test_a_fresh_runner_adopts_what_the_stack_serves_instead_of_starting_over(
    iris, iris_bundle: Path, iris_cases, iris_client, stack, tmp_path: Path
) -> None:
    """CI runners start without .modelstack/: the stack itself says what serves."""
    progress = Progress(stream=io.StringIO())
    first = PulumiEngine(iris, "prod", stack, client_factory=lambda m, a: iris_client)
    roll_out(
        first,
        StateStore(iris_bundle, "prod"),
        release(DIGEST_1),
        iris_cases,
        iris.rollout,
        progress,
        sleep=lambda s: None,
    )

    runner = PulumiEngine(
        iris, "prod", stack, client_factory=lambda m, a: FakeRegressedClient(iris_client)
    )
    fresh = StateStore(tmp_path / "fresh-checkout", "prod")
    adopted = runner.adopt()
    assert adopted is not None and adopted.version == "1" and adopted.digest == DIGEST_1
    fresh.save(fresh.load().with_(stable=adopted))
    updates_before = len(stack.updates)
    with pytest.raises(SmokeTestError):
        roll_out(
            runner,
            fresh,
            release(DIGEST_2),
            iris_cases,
            iris.rollout,
            progress,
            sleep=lambda s: None,
        )
    # The candidate got no traffic, production was not destroyed, version 1 still serves.
    new = stack.updates[updates_before:]
    assert new[0] == config(f"{REPO}@{DIGEST_2}", "1", 0)
    assert new[-1] == config(f"{REPO}@{DIGEST_1}", "", 100)
    assert not stack.destroyed


def test_an_empty_stack_has_nothing_to_adopt(iris, stack) -> None:
    assert PulumiEngine(iris, "prod", stack).adopt() is None


class FakeClock:
    """Time for the engine's metric windows, moved by the rollout's waits (no real sleeping)."""

    def __init__(self) -> None:
        self.t = time.time() - 3600

    def __call__(self) -> float:
        return self.t

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def put_lambda_metrics(
    cloudwatch: Any, version: str, at: float, *, invocations: int, errors: int
) -> None:
    """What Lambda itself records for the alias and the version that ran."""
    dimensions = [
        {"Name": "FunctionName", "Value": "iris-prod"},
        {"Name": "Resource", "Value": "iris-prod:live"},
        {"Name": "ExecutedVersion", "Value": version},
    ]
    when = datetime.fromtimestamp(at, tz=timezone.utc)
    cloudwatch.put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dimensions,
                "Timestamp": when,
                "Value": invocations,
            },
            {"MetricName": "Errors", "Dimensions": dimensions, "Timestamp": when, "Value": errors},
        ],
    )


@pytest.mark.docker
@pytest.mark.usefixtures("docker_engine")
def test_the_pipeline_creates_the_registry_before_it_pushes(
    iris, iris_bundle: Path, iris_cases, stack
) -> None:
    """The real build, container smoke tests and push (to the local registry), with the cloud
    engine's `prepare_registry` in between: at that moment nothing has been pushed yet."""
    import docker

    from modelstack.deploy.pipeline import BuildOptions, build_release
    from modelstack.smoke.local import prepare_local

    registry = os.environ.get("MODELSTACK_TEST_REGISTRY", "127.0.0.1:5000")
    namespace = f"modelstack-order-{uuid.uuid4().hex[:8]}"
    engine = PulumiEngine(iris, "prod", stack)
    seen: list[int] = []

    def prepare() -> None:
        seen.append(tags_status(registry, f"{namespace}/iris"))
        engine.prepare_registry()

    client = docker.from_env()
    try:
        built = build_release(
            client,
            iris,
            iris.targets["prod"],
            prepare_local(iris),
            BuildOptions(
                base_image=os.environ.get(
                    "MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm"
                ),
                ca_bundle="/etc/ssl/certs/ca-certificates.crt",
                registry=f"{registry}/{namespace}",
            ),
            Progress(stream=io.StringIO()),
            unchanged=lambda image_id: False,
            prepare_registry=prepare,
        )
    finally:
        client.close()
    assert built is not None and built.image.startswith(f"{registry}/{namespace}/iris@sha256:")
    assert seen == [404]  # the repository was still empty when the registry was prepared
    assert tags_status(registry, f"{namespace}/iris") == 200
    assert stack.events == ["up registry-only"]


def tags_status(registry: str, repository: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only
    try:
        with opener.open(f"http://{registry}/v2/{repository}/tags/list", timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        with error:
            return error.code
