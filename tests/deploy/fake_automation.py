"""`FakeAutomationStack`: a fake at the cloud boundary, named as such.

The real `AutomationStack` needs the Pulumi CLI, its provider plugins and cloud credentials,
none of which exist here. This fake keeps the stack's config like a real stack would and runs
the very same inline program (`service_program`) under Pulumi's own mocks for every `up`, so
the program, the component and the engine around it all run for real; only the cloud is
missing. It records each update's config and resources for the tests to inspect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from modelstack.deploy.cloud import CONFIG_NAMESPACE, service_program
from modelstack.manifest import Manifest
from modelstack.pulumi.offline import RecordedResource, RecordingMocks, run_offline


class PublishingMocks(RecordingMocks):
    """Like Lambda with publish=True: each new image publishes the next version number."""

    def __init__(self, versions: dict[str, str]) -> None:
        self.versions = versions

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ == "aws:lambda/function:Function":
            image = str(args.inputs.get("imageUri"))
            self.versions.setdefault(image, str(len(self.versions) + 1))
            outputs["version"] = self.versions[image]
        return resource_id, outputs


@dataclass
class FakeAutomationStack:
    manifest: Manifest
    target: str
    updates: list[dict[str, str]] = field(default_factory=list)
    resources: list[list[RecordedResource]] = field(default_factory=list)
    destroyed: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    last_outputs: dict[str, Any] = field(default_factory=dict)

    def up(self, config: Mapping[str, str], on_output: Callable[[str], None]) -> dict[str, Any]:
        self.updates.append(dict(config))
        for key, value in config.items():
            pulumi.runtime.set_config(f"{CONFIG_NAMESPACE}:{key}", value)
        program = service_program(self.manifest, self.target)
        exported: dict[str, Any] = {}

        def capture() -> dict[str, Any]:
            original = pulumi.export
            pulumi.export = lambda name, value: exported.__setitem__(name, value)  # type: ignore[assignment]
            try:
                program()
            finally:
                pulumi.export = original
            return exported

        recorded, outputs = run_offline(
            capture, stack=self.target, mocks=PublishingMocks(self.versions)
        )
        self.resources.append(recorded)
        on_output(f"updated {len(recorded)} resources")
        self.destroyed = False
        self.last_outputs = dict(outputs)
        return dict(outputs)

    def outputs(self) -> dict[str, Any]:
        return {} if self.destroyed or not self.last_outputs else dict(self.last_outputs)

    def destroy(self, on_output: Callable[[str], None]) -> None:
        self.destroyed = True
