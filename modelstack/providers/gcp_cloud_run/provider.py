"""The gcp-cloud-run provider: a Cloud Run (GPU) service deployed through Pulumi."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from modelstack.providers.gcp_cloud_run.target import CloudRunTarget, target_from_dict
from modelstack.providers.pulumi_cloud import PulumiCloudProvider

if TYPE_CHECKING:
    import pulumi

    from modelstack.cost.pricing import TargetPricing
    from modelstack.deploy.metrics import ErrorRateReader
    from modelstack.image.registries import Destination
    from modelstack.lint.rule import Rule
    from modelstack.manifest.model import Manifest
    from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
    from modelstack.smoke.clients import InferenceClient

__all__ = ["CloudRunProvider"]


class CloudRunProvider(PulumiCloudProvider[CloudRunTarget]):
    """Artifact Registry, a named revision per release, a 0 % traffic tag for the candidate."""

    name = "gcp-cloud-run"
    target_type = CloudRunTarget
    sdk = ("pulumi_gcp", "gcp")

    def target_from_dict(self, name: str, d: dict[str, Any]) -> CloudRunTarget:
        return target_from_dict(name, d)

    def flavour(self, target: CloudRunTarget) -> str:
        return "cloudrun-gpu" if target.gpu is not None else "cloudrun-cpu"

    def runtime_concurrency(self, target: CloudRunTarget) -> int | None:
        return target.concurrency

    def destination(
        self, manifest: Manifest, target_name: str, target: CloudRunTarget
    ) -> Destination:
        from modelstack.image.registries import Destination
        from modelstack.providers.gcp_cloud_run.registry import google_login
        from modelstack.pulumi.naming import base_name, fit

        base = base_name(manifest, target_name)
        host = f"{target.region}-docker.pkg.dev"
        return Destination(f"{host}/{target.project}/{fit(base, 63)}/{base}", google_login())

    def registry_login(self, host: str) -> dict[str, str] | None:
        from modelstack.providers.gcp_cloud_run.registry import google_host_login

        return google_host_login(host)

    def candidate_client(self, manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
        from modelstack.providers.gcp_cloud_run.candidate import cloud_run_client

        return cloud_run_client(str(address["url"]), manifest.name)

    def serving_address(
        self, manifest: Manifest, target: CloudRunTarget, outputs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        url = outputs.get("endpoint")  # the service URL, not a revision's tag URL
        return {"provider": self.name, "url": str(url)} if url else None

    def error_rate_reader(self, target: CloudRunTarget, min_requests: int) -> ErrorRateReader:
        from modelstack.providers.gcp_cloud_run.metrics import CloudMonitoringErrorRate

        return CloudMonitoringErrorRate(target.project, min_requests)

    def monitoring(self, target: CloudRunTarget) -> Any:
        from modelstack.providers.gcp_cloud_run.monitoring import CloudMonitoringMetrics

        return CloudMonitoringMetrics(target)

    def deletion_protected(self, target: CloudRunTarget) -> bool:
        return target.deletion_protection

    def check_spec(self, spec: ServiceSpec) -> None:
        pass  # the image may be an Output too: the revision name is derived when it resolves

    def build_program(
        self, parent: pulumi.Resource, name: str, spec: ServiceSpec
    ) -> ServiceOutputs:
        from modelstack.providers.gcp_cloud_run.program import build_cloud_run

        return build_cloud_run(parent, name, spec)

    def lint_rules(self) -> tuple[type[Rule], ...]:
        # The lint package first: loading it builds the registry, which calls back here.
        import modelstack.lint  # noqa: F401
        from modelstack.providers.gcp_cloud_run.lint.exposure import PublicService
        from modelstack.providers.gcp_cloud_run.lint.gpu import (
            GpuCpu,
            GpuCpuAllocation,
            GpuMemory,
            GpuQuota,
            GpuType,
        )

        return (GpuCpu, GpuMemory, GpuCpuAllocation, GpuType, GpuQuota, PublicService)

    def init_snippet(self, *, gpu: bool) -> str:
        text = (
            "  prod:\n    provider: gcp-cloud-run\n    project: my-project\n"
            "    region: us-central1\n"
        )
        if gpu:
            text += (
                "    cpu: 4\n    memory: 16Gi\n    gpu:\n      type: nvidia-l4\n"
                "    max_instances: 3\n"
            )
        return text

    def supports_gpu(self) -> bool:
        return True

    def prices(self, target: CloudRunTarget) -> TargetPricing:
        from modelstack.providers.gcp_cloud_run.pricing import CloudRunPricing

        return CloudRunPricing(target)
