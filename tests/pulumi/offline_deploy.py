"""Deploying a ModelService offline in tests: paths, images, and what a deployment recorded.

Pitfalls handled once, here: a program only registers resources inside
`@pulumi.runtime.test`, and `deploy_offline` asserts that something was registered, so a test
that lost the decorator fails instead of passing with nothing checked. Inputs arrive camelCase
with numbers as floats; the recorder normalises integral floats to ints.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from modelstack.errors import SmokeTestError
from modelstack.pulumi import ModelService, ModelServiceArgs
from modelstack.pulumi.component import TYPE_TOKEN
from modelstack.pulumi.offline import RecordedResource, RecordingMonitor

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
IRIS = ROOT / "examples" / "iris" / "modelstack.yaml"
DIGITS = ROOT / "examples" / "digits-gpu" / "modelstack.yaml"
DIGEST = "sha256:" + "ab" * 32
ECR_IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/iris-prod@{DIGEST}"
GCP_IMAGE = f"us-central1-docker.pkg.dev/p/digits-gpu/digits@{DIGEST}"


def hook_args(**fields: Any) -> pulumi.ResourceHookArgs:
    """Hook arguments as the engine passes them, with the given inputs/outputs."""
    return pulumi.ResourceHookArgs(urn="urn:test", id="id", name="svc", type="t", **fields)


class FakeSmokeRunner:
    """A smoke runner that records its calls and fails with `failure` when given one."""

    def __init__(self, failure: str | None = None) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.failure = failure

    def __call__(self, manifest: Any, target: str, address: dict[str, Any]) -> None:
        self.calls.append((manifest.name, target, address))
        if self.failure:
            raise SmokeTestError(self.failure)


def passing_runner(manifest: Any, target: str, address: dict[str, Any]) -> None:
    """A smoke runner that passes: tests here never reach a real endpoint."""


@dataclass
class Deployment:
    """What an offline deployment registered, and the component's resolved outputs."""

    resources: list[RecordedResource]
    outputs: dict[str, Any]
    component: ModelService

    def of_type(self, suffix: str) -> list[RecordedResource]:
        """Resources whose type ends with `suffix`, such as `lambda/function:Function`."""
        return [r for r in self.resources if r.type.endswith(suffix)]

    def one(self, suffix: str) -> RecordedResource:
        found = self.of_type(suffix)
        assert len(found) == 1, f"expected one {suffix}, got {[r.name for r in found]}"
        return found[0]

    @property
    def root(self) -> RecordedResource:
        return self.one(TYPE_TOKEN)

    @property
    def children(self) -> list[RecordedResource]:
        return [r for r in self.resources if r.type != TYPE_TOKEN]

    def policy(self) -> dict[str, Any]:
        return json.loads(self.one("iam/rolePolicy:RolePolicy").inputs["policy"])


Deploy = Callable[..., Deployment]

OUTPUTS = (
    "endpoint",
    "candidate_address",
    "candidate_version",
    "stable_version",
    "image",
    "image_digest",
    "registry",
    "resource_names",
)


def deploy_offline(
    monitor: RecordingMonitor,
    opts: pulumi.ResourceOptions | None = None,
    image_from: Callable[[], Any] | None = None,
    **fields: Any,
) -> Deployment:
    """Deploy `ModelServiceArgs(**fields)` under the installed mocks and record it.

    `image_from`, when given, makes the image inside the program (from resources registered
    there, as a program that builds its image does)."""
    fields.setdefault("smoke_runner", passing_runner)
    monitor.clear()
    holder: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        image = {"image": image_from()} if image_from else {}
        service = ModelService("svc", ModelServiceArgs(**fields, **image), opts)
        holder["component"] = service
        outputs = {name: getattr(service, name) for name in OUTPUTS}
        return pulumi.Output.all(**outputs).apply(lambda v: holder.update(outputs=v))

    program()
    assert monitor.recorded, "nothing was registered: is the program under @pulumi.runtime.test?"
    return Deployment(list(monitor.recorded), holder["outputs"], holder["component"])


def run_hook(hook: Callable[[Any], Any], args: pulumi.ResourceHookArgs) -> None:
    """Call a resource hook the way the engine would, in a private event loop."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(hook(args))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
