"""`FakeAutomationStack`: a fake at the cloud boundary, named as such.

The real `AutomationStack` needs the Pulumi CLI, its provider plugins and cloud credentials,
none of which exist here. This fake keeps the stack's config like a real stack would and runs
the very same inline program (`service_program`) under Pulumi's own mocks for every `up`, so
the program, the component and the engine around it all run for real; only the cloud is
missing. It records each update's config and resources for the tests to inspect.

It also keeps the two rules of the clouds that decide what a deploy may do in which order:
an image can only be pushed to a repository the stack has created (`push`), and a resource
cannot be deleted (by `destroy`, or by an update that leaves it out) when the cloud would
refuse: an ECR repository holding images without `force_delete`, a Cloud Run service with
`deletion_protection`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from modelstack.deploy.cloud import CONFIG_NAMESPACE, service_program
from modelstack.errors import InfrastructureError
from modelstack.manifest import Manifest
from modelstack.pulumi.offline import RecordedResource, RecordingMocks, run_offline


class FakePublishingMocks(RecordingMocks):
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
    images: dict[str, list[str]] = field(default_factory=dict)
    """Repository URL -> the images pushed to it, for every repository the stack created."""
    events: list[str] = field(default_factory=list)
    """`up`, `up registry-only`, `push`, `destroy`, in the order they happened."""

    @property
    def live(self) -> list[RecordedResource]:
        """The resources the stack holds now."""
        return [] if self.destroyed or not self.resources else self.resources[-1]

    def push(self, reference: str) -> None:
        """Push an image, as the registry would take it: only into an existing repository."""
        repository = reference.split("@", 1)[0]
        # ECR: the repository is the image name; Artifact Registry holds images under it.
        found = [u for u in self.images if repository == u or repository.startswith(u + "/")]
        if not found:
            raise InfrastructureError(
                f"name unknown: the repository {repository} does not exist in the registry"
            )
        self.images[found[0]].append(reference)
        self.events.append("push")

    def _delete(self, gone: list[RecordedResource]) -> None:
        for resource in gone:
            inputs = resource.inputs
            if resource.type == "aws:ecr/repository:Repository":
                url = self._repository_url(resource)
                if self.images.get(url) and not inputs.get("forceDelete"):
                    raise InfrastructureError(
                        f"RepositoryNotEmptyException: the repository {inputs['name']} cannot "
                        "be deleted because it still contains images"
                    )
                self.images.pop(url, None)
            if resource.type == "gcp:cloudrunv2/service:Service" and inputs.get(
                "deletionProtection", True
            ):
                raise InfrastructureError(
                    f"cannot destroy service {inputs['name']} without setting "
                    "deletion_protection=false and running `pulumi up`"
                )
            if resource.type == "gcp:artifactregistry/repository:Repository":
                self.images.pop(self._repository_url(resource), None)

    def _repository_url(self, resource: RecordedResource) -> str:
        inputs = resource.inputs
        if resource.type == "aws:ecr/repository:Repository":
            return f"123456789012.dkr.ecr.{inputs['region']}.amazonaws.com/{inputs['name']}"
        return f"{inputs['location']}-docker.pkg.dev/{inputs['project']}/{inputs['repositoryId']}"

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
            capture, stack=self.target, mocks=FakePublishingMocks(self.versions)
        )
        urns = {r.urn for r in recorded}
        self._delete([r for r in self.live if r.urn not in urns])
        for resource in recorded:
            if resource.type.endswith("/repository:Repository"):
                self.images.setdefault(self._repository_url(resource), [])
        self.resources.append(recorded)
        self.events.append("up registry-only" if config.get("registry_only") == "true" else "up")
        on_output(f"updated {len(recorded)} resources")
        self.destroyed = False
        self.last_outputs = dict(outputs)
        return dict(outputs)

    def outputs(self) -> dict[str, Any]:
        return {} if self.destroyed or not self.last_outputs else dict(self.last_outputs)

    def destroy(self, on_output: Callable[[str], None]) -> None:
        self._delete(list(self.live))
        self.events.append("destroy")
        self.destroyed = True
