"""Cloud targets through the Pulumi Automation API (provider-neutral: each provider brings
its program, metrics reader and deletion protection through `modelstack.providers`).

The rollout drives `PulumiEngine`; every change is one `pulumi up` of an inline program built
from the ModelService component, with the image digest and the traffic split in the stack's
config. The engine talks to Pulumi only through `StackBoundary`: `AutomationStack` is the real
one (it needs the Pulumi CLI and cloud credentials); tests put a fake in its place that runs the
same program under Pulumi's mocks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

from modelstack.deploy.metrics import ErrorRateReader
from modelstack.deploy.pulumi_cli import INSTALL_PULUMI, require_pulumi_cli
from modelstack.deploy.release import Release
from modelstack.errors import InfrastructureError, MissingDependencyError
from modelstack.manifest.model import Manifest
from modelstack.providers import provider_for
from modelstack.smoke.candidate import candidate_client
from modelstack.smoke.clients import InferenceClient

__all__ = [
    "AutomationStack",
    "PulumiEngine",
    "StackBoundary",
    "pulumi_engine",
    "require_pulumi_cli",
    "service_program",
]

CONFIG_NAMESPACE = "modelstack"


class StackBoundary(Protocol):
    """The one place the engine meets Pulumi: set the stack's config, update, read outputs."""

    def up(self, config: Mapping[str, str], on_output: Callable[[str], None]) -> dict[str, Any]:
        """Apply `config` (image, stable version, candidate percent); the stack's outputs."""
        ...

    def destroy(self, on_output: Callable[[str], None]) -> None: ...

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs as they stand, without an update ({} for an empty stack)."""
        ...


def service_program(manifest: Manifest, target: str) -> Callable[[], None]:
    """The inline Pulumi program: one ModelService configured from the stack's config."""

    def program() -> None:
        import pulumi

        from modelstack.pulumi import ModelService, ModelServiceArgs
        from modelstack.pulumi.image import placeholder_image
        from modelstack.pulumi.naming import base_name

        config = pulumi.Config(CONFIG_NAMESPACE)
        name = base_name(manifest, target)
        registry_only = config.get_bool("registry_only") or False
        image = config.get("image") or str(placeholder_image(name))
        protection = config.get("deletion_protection") or ""
        service = ModelService(
            name,
            ModelServiceArgs(
                manifest=manifest,
                image=image,
                target=target,
                stable_version=config.get("stable_version") or None,
                candidate_percent=config.get_int("candidate_percent") or 0,
                smoke_gate=False,  # `up` runs the pre-traffic smoke tests itself
                lint=False,  # `up` linted the manifest before it built anything
                registry_only=registry_only,
                deletion_protection=None if not protection else protection == "true",
            ),
        )
        pulumi.export("registry", service.registry)
        pulumi.export("endpoint", service.endpoint)
        pulumi.export("candidate_address", service.candidate_address)
        pulumi.export("candidate_version", service.candidate_version)
        pulumi.export("image_digest", "" if registry_only else service.image_digest)
        pulumi.export("image_reference", "" if registry_only else image)

    return program


class AutomationStack:
    """The real boundary: a Pulumi stack with a local file backend by default."""

    def __init__(
        self, manifest: Manifest, target: str, stack: str, backend_url: str | None = None
    ) -> None:
        require_pulumi_cli()
        self.program = service_program(manifest, target)
        self.project = f"modelstack-{manifest.name}"
        self.stack_name = stack
        state = manifest.directory / ".modelstack" / "pulumi"
        self.backend_url = backend_url or f"file://{state}"
        self.work_dir = state

    def _stack(self) -> Any:
        try:
            from pulumi import automation
        except ImportError:
            raise MissingDependencyError("deploying cloud targets", "aws") from None
        Path(self.work_dir).mkdir(parents=True, exist_ok=True)
        settings = automation.ProjectSettings(
            name=self.project,
            runtime="python",
            backend=automation.ProjectBackend(url=self.backend_url),
        )
        options = automation.LocalWorkspaceOptions(
            work_dir=str(self.work_dir),
            project_settings=settings,
            env_vars={"PULUMI_CONFIG_PASSPHRASE": ""}
            if self.backend_url.startswith("file:")
            else None,
        )
        try:
            return automation.create_or_select_stack(
                stack_name=self.stack_name,
                project_name=self.project,
                program=self.program,
                opts=options,
            )
        except FileNotFoundError:
            raise InfrastructureError(INSTALL_PULUMI) from None
        except Exception as exc:
            if "pulumi" in str(exc).lower() and "not found" in str(exc).lower():
                raise InfrastructureError(INSTALL_PULUMI) from None
            raise InfrastructureError(f"pulumi: {exc}") from None

    def up(self, config: Mapping[str, str], on_output: Callable[[str], None]) -> dict[str, Any]:
        from pulumi import automation

        stack = self._stack()
        try:
            stack.set_all_config(
                {f"{CONFIG_NAMESPACE}:{k}": automation.ConfigValue(v) for k, v in config.items()}
            )
            result = stack.up(on_output=on_output)
        except automation.errors.CommandError as exc:
            raise InfrastructureError(f"pulumi up failed:\n{exc}") from None
        return {key: output.value for key, output in result.outputs.items()}

    def outputs(self) -> dict[str, Any]:
        from pulumi import automation

        try:
            return {key: out.value for key, out in self._stack().outputs().items()}
        except automation.errors.CommandError as exc:
            raise InfrastructureError(f"pulumi: cannot read the stack's outputs:\n{exc}") from None

    def destroy(self, on_output: Callable[[str], None]) -> None:
        from pulumi import automation

        try:
            self._stack().destroy(on_output=on_output)
        except automation.errors.CommandError as exc:
            raise InfrastructureError(f"pulumi destroy failed:\n{exc}") from None


class PulumiEngine:
    """The Engine protocol for cloud targets, one stack update per traffic change.

    A first deploy into an empty account runs in three steps: `prepare_registry` applies the
    stack with only the image repository in it (so the pipeline can push), the push, then the
    full stack. A failed first deploy goes back to that registry-only stack: the serving
    resources are removed, the repository and its image stay for the next try.
    """

    def __init__(
        self,
        manifest: Manifest,
        target: str,
        boundary: StackBoundary,
        on_output: Callable[[str], None] = lambda line: None,
        client_factory: Callable[[Manifest, Mapping[str, Any]], InferenceClient] = candidate_client,
        metrics: ErrorRateReader | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_factory = client_factory
        self.manifest = manifest
        self.target = target
        self.boundary = boundary
        self.on_output = on_output
        self.metrics = metrics
        self.clock = clock
        self.outputs: dict[str, Any] = {}
        self._applied: dict[str, str] = {}
        self._traffic_since = clock()

    def _apply(self, config: dict[str, str]) -> dict[str, Any]:
        if config != self._applied:  # one `pulumi up` per real change
            self.outputs = self.boundary.up(config, self.on_output)
            self._applied = config
        return self.outputs

    def _up(self, image: str, stable: Release | None, percent: int) -> dict[str, Any]:
        return self._apply(
            {
                "image": image,
                "stable_version": stable.version if stable else "",
                "candidate_percent": str(percent),
                "registry_only": "false",
                "deletion_protection": "",
            }
        )

    def _registry_only(self) -> dict[str, Any]:
        return self._apply(
            {
                "image": "",
                "stable_version": "",
                "candidate_percent": "0",
                "registry_only": "true",
                "deletion_protection": "",
            }
        )

    def prepare_registry(self) -> None:
        """Create the image repository when the stack has none yet (an empty account)."""
        if self.boundary.outputs().get("registry"):
            return
        self.on_output("creating the image repository before the first push")
        self._registry_only()

    def endpoint(self) -> str:
        return str(self.outputs.get("endpoint", ""))

    def ensure_endpoint(self) -> bool:
        return True  # the cloud keeps its endpoints; there is nothing local to restart

    def adopt(self) -> Release | None:
        outputs = self.boundary.outputs()
        image, version = outputs.get("image_reference"), outputs.get("candidate_version")
        if not image or not version:
            return None
        self.outputs = outputs
        self._applied = {
            "image": str(image),
            "stable_version": "",
            "candidate_percent": "100",
            "registry_only": "false",
            "deletion_protection": "",
        }
        return Release(str(version), str(image), "unknown", "", "")

    def deploy_candidate(self, release: Release, stable: Release | None) -> Release:
        outputs = self._up(release.image, stable, 0 if stable else 100)
        self._traffic_since = self.clock()
        version = str(outputs.get("candidate_version") or release.version)
        return replace(release, version=version)

    def candidate_client(self, release: Release) -> InferenceClient:
        address = self.outputs.get("candidate_address")
        if not isinstance(address, Mapping):
            raise InfrastructureError("the stack reported no candidate address")
        return self.client_factory(self.manifest, address)

    def set_traffic(self, stable: Release | None, candidate: Release, percent: int) -> None:
        self._up(candidate.image, stable, percent)
        self._traffic_since = self.clock()

    def error_rate(self, release: Release) -> float | None:
        """The candidate's error rate since its traffic last changed, from the platform's
        metrics; None (reported as no signal) when too few requests reached it."""
        address = self.outputs.get("candidate_address")
        if not isinstance(address, Mapping):
            raise InfrastructureError("the stack reported no candidate address")
        reader = self.metrics or self._default_metrics()
        start = datetime.fromtimestamp(self._traffic_since, tz=timezone.utc)
        end = datetime.fromtimestamp(self.clock(), tz=timezone.utc)
        reading = reader.read(address, start, end)
        self.on_output(reading.describe())
        return reading.rate

    def _default_metrics(self) -> ErrorRateReader:
        from modelstack.deploy.metrics import min_requests

        target = self.manifest.targets[self.target]
        self.metrics = provider_for(target).error_rate_reader(target, min_requests())
        return self.metrics

    def promote(self, release: Release, retired: Release | None) -> None:
        self._up(release.image, None, 100)

    def abandon(self, stable: Release | None, failed: Release) -> None:
        if stable is not None:
            self._up(stable.image, None, 100)
            return
        # A first deploy that failed: nothing served before it, so nothing may serve now. The
        # serving resources go; the repository and the image pushed to it stay.
        if self._protected():
            serving = self._serving()
            if serving is not None:  # Cloud Run refuses to delete a protected service
                self._apply({**serving, "deletion_protection": "false"})
        self._registry_only()

    def _serving(self) -> dict[str, str] | None:
        """The config of the full stack as applied, or as the stack reports it (after a crash)."""
        if self._applied.get("registry_only") == "false":
            return dict(self._applied)
        image = self.boundary.outputs().get("image_reference")
        if not image:
            return None
        return {
            "image": str(image),
            "stable_version": "",
            "candidate_percent": "100",
            "registry_only": "false",
            "deletion_protection": "",
        }

    def _protected(self) -> bool:
        target = self.manifest.targets[self.target]
        return provider_for(target).deletion_protected(target)

    def destroy(self) -> None:
        self.boundary.destroy(self.on_output)
        self.outputs, self._applied = {}, {}


def pulumi_engine(
    manifest: Manifest,
    target: str,
    *,
    stack: str | None,
    backend: str | None,
    on_output: Callable[[str], None],
) -> PulumiEngine:
    """The engine of a cloud target: its own Pulumi stack (named after the target by default)."""
    boundary = AutomationStack(manifest, target, stack or target, backend)
    return PulumiEngine(manifest, target, boundary, on_output=on_output)
