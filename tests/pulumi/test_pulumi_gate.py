"""The smoke gate, called directly: hooks do not run under Pulumi's mocks."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from offline_deploy import (
    DIGITS,
    ECR_IMAGE,
    GCP_IMAGE,
    IRIS,
    Deploy,
    FakeSmokeRunner,
    hook_args,
    run_hook,
)

from modelstack.errors import SmokeTestError, UsageError
from modelstack.manifest import load_manifest
from modelstack.providers.gcp_cloud_run.program import gate_binding
from modelstack.pulumi import ModelServiceArgs, default_runner, smoke_gate
from modelstack.pulumi.spec import resolve

LAMBDA_ADDRESS = {"provider": "aws-lambda", "function_name": "iris-prod", "qualifier": "7"}


def test_passing_runner_lets_the_update_go_on() -> None:
    runner = FakeSmokeRunner()
    hook = smoke_gate(load_manifest(IRIS), "prod", lambda _: LAMBDA_ADDRESS, runner)
    run_hook(hook, hook_args(new_inputs={}))
    assert runner.calls == [("iris", "prod", LAMBDA_ADDRESS)]


def test_failing_runner_fails_the_update_with_the_smoke_failure_text() -> None:
    runner = FakeSmokeRunner("setosa: label [2] != expected [0]")
    hook = smoke_gate(load_manifest(IRIS), "prod", lambda _: LAMBDA_ADDRESS, runner)
    with pytest.raises(SmokeTestError) as raised:
        run_hook(hook, hook_args(new_inputs={}))
    message = str(raised.value)
    assert "setosa: label [2] != expected [0]" in message
    assert "qualifier=7" in message and "traffic does not move" in message


def test_locator_may_await_an_output_like_value() -> None:
    async def locate(_: pulumi.ResourceHookArgs) -> dict[str, Any]:
        return LAMBDA_ADDRESS

    runner = FakeSmokeRunner()
    run_hook(smoke_gate(load_manifest(IRIS), "prod", locate, runner), hook_args())
    assert runner.calls[0][2] == LAMBDA_ADDRESS


def test_default_runner_runs_the_candidate_smoke_tests() -> None:
    # It verifies the model and reaches for a client for the address's provider.
    with pytest.raises(UsageError, match="cannot smoke-test a candidate on provider 'local'"):
        default_runner(load_manifest(IRIS), "local", {"provider": "local"})


def test_gate_is_bound_to_the_alias_and_optional(deploy: Deploy) -> None:
    gated = deploy(manifest=IRIS, image=ECR_IMAGE)
    assert set(gated.one("lambda/alias:Alias").hooks) == {"before_create", "before_update"}
    assert [r.name for r in gated.resources if r.hooks] == ["svc-alias"]
    ungated = deploy(manifest=IRIS, image=ECR_IMAGE, smoke_gate=False)
    assert not any(r.hooks for r in ungated.resources)


def _cloud_run_hooks(percent: int, stable: str | None, runner: FakeSmokeRunner) -> Any:
    spec = resolve(
        ModelServiceArgs(
            manifest=DIGITS,
            image=GCP_IMAGE,
            candidate_percent=percent,
            stable_version=stable,
            smoke_runner=runner,
        )
    )
    return gate_binding(spec, "digits-gpu", "digits-gpu-abababab-12345")


def test_cloud_run_gate_tests_a_new_revision_after_a_no_traffic_deploy() -> None:
    runner = FakeSmokeRunner()
    binding = _cloud_run_hooks(0, "digits-gpu-old", runner)
    assert binding.before_update is None and binding.after_update
    outputs = {
        "uri": "https://digits-gpu-xyz.a.run.app",
        "trafficStatuses": [
            {"tag": "stable", "uri": "https://stable---digits-gpu-xyz.a.run.app"},
            {"tag": "candidate", "uri": "https://candidate---digits-gpu-xyz.a.run.app"},
        ],
    }
    run_hook(binding.after_update[0], hook_args(new_outputs=outputs))
    address = runner.calls[0][2]
    assert address["url"] == "https://candidate---digits-gpu-xyz.a.run.app"
    assert address["revision"] == "digits-gpu-abababab-12345"


def test_cloud_run_gate_refuses_to_shift_traffic_to_an_untested_revision() -> None:
    runner = FakeSmokeRunner()
    binding = _cloud_run_hooks(25, "digits-gpu-old", runner)
    assert binding.after_update is None and binding.before_update
    old_inputs = {"template": {"revision": "digits-gpu-somethingelse"}}
    with pytest.raises(SmokeTestError, match="candidate_percent=0"):
        run_hook(binding.before_update[0], hook_args(old_inputs=old_inputs))
    assert runner.calls == []

    old_inputs = {"template": {"revision": "digits-gpu-abababab-12345"}}
    old_outputs = {"uri": "https://digits-gpu-xyz.a.run.app"}
    run_hook(binding.before_update[0], hook_args(old_inputs=old_inputs, old_outputs=old_outputs))
    assert runner.calls[0][2]["url"] == "https://candidate---digits-gpu-xyz.a.run.app"


def test_cloud_run_gate_failure_carries_the_smoke_text() -> None:
    binding = _cloud_run_hooks(0, None, FakeSmokeRunner("digit-7: argmax 1 != 7"))
    with pytest.raises(SmokeTestError, match="digit-7: argmax 1 != 7"):
        run_hook(binding.after_create[0], hook_args(new_outputs={"uri": "https://x.run.app"}))
