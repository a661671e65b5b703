"""The local provider: containers and a router on this machine's Docker engine."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from modelstack.errors import CostError, UsageError
from modelstack.providers.local.target import LocalTarget, function_name, target_from_dict
from modelstack.providers.protocol import Provider, not_a_cloud_target

if TYPE_CHECKING:
    import pulumi

    from modelstack.deploy.engine import Engine
    from modelstack.deploy.metrics import ErrorRateReader
    from modelstack.image.registries import Destination
    from modelstack.lint.rule import Rule
    from modelstack.manifest.model import Manifest
    from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
    from modelstack.smoke.clients import InferenceClient

__all__ = ["LocalProvider"]


class LocalProvider(Provider[LocalTarget]):
    """Each release as warm containers on the host network, a router as the stable endpoint."""

    name = "local"
    target_type = LocalTarget
    is_cloud = False
    sdk = None

    def target_from_dict(self, name: str, d: dict[str, Any]) -> LocalTarget:
        return target_from_dict(name, d)

    def flavour(self, target: LocalTarget) -> str:
        return "lambda" if target.flavour == "lambda" else "cloudrun-cpu"

    def runtime_concurrency(self, target: LocalTarget) -> int | None:
        return None

    def destination(self, manifest: Manifest, target_name: str, target: LocalTarget) -> Destination:
        raise UsageError(
            f"target '{target_name}' is local: there is no registry to push to by default; "
            "give one with --registry URL (e.g. --registry 127.0.0.1:5000)"
        )

    def registry_login(self, host: str) -> dict[str, str] | None:
        return None

    def preflight(self, target: LocalTarget) -> None:
        return None  # the Docker engine is checked when the build starts

    def engine(
        self,
        manifest: Manifest,
        target: LocalTarget,
        *,
        stack: str | None,
        backend: str | None,
        on_output: Callable[[str], None],
    ) -> Engine:
        if stack is not None:
            raise UsageError("--stack is for cloud targets; a local target has one deployment")
        from modelstack.deploy.state import STATE_DIR
        from modelstack.image.engine import docker_client
        from modelstack.providers.local.engine import LocalEngine
        from modelstack.providers.local.events_wiring import events_for

        state_dir = manifest.directory / STATE_DIR / "local" / target.name
        events = events_for(manifest, target, state_dir)
        return LocalEngine(docker_client(), manifest.name, target, state_dir, events=events)

    def candidate_client(self, manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
        """A client for an address from `serving_address`: the router's v2 HTTP endpoint, or
        its Lambda Invoke API (placeholder credentials, as `sam local start-lambda` takes)."""
        protocol = address.get("protocol")
        if protocol == "http":
            from modelstack.smoke.clients import HttpClient

            return HttpClient(str(address["url"]), manifest.name, binary=True)
        if protocol == "lambda":
            from modelstack.providers.aws_lambda.invoke_client import LambdaInvokeClient

            return LambdaInvokeClient(
                str(address["function_name"]),
                str(address["qualifier"]),
                str(address["region"]),
                endpoint_url=str(address["url"]),
                local=True,
            )
        raise UsageError(f"cannot smoke-test a candidate on provider {self.name!r}")

    def monitoring(self, target: LocalTarget) -> Any:
        from modelstack.providers.local.monitoring import LocalMetrics

        return LocalMetrics(target)

    def serving_address(
        self, manifest: Manifest, target: LocalTarget, outputs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        from modelstack.pulumi.naming import LAMBDA_ALIAS

        return {
            "provider": self.name,
            "url": f"http://127.0.0.1:{target.port}",
            "port": target.port,
            "protocol": "http" if target.flavour == "http" else "lambda",
            "function_name": function_name(manifest.name, target.name),
            "qualifier": LAMBDA_ALIAS,
            "region": "us-east-1",
        }

    def error_rate_reader(self, target: LocalTarget, min_requests: int) -> ErrorRateReader:
        raise not_a_cloud_target(self.name, "an error-rate reader from platform metrics")

    def deletion_protected(self, target: LocalTarget) -> bool:
        return False

    def check_spec(self, spec: ServiceSpec) -> None:
        return None

    def build_program(
        self, parent: pulumi.Resource, name: str, spec: ServiceSpec
    ) -> ServiceOutputs:
        raise not_a_cloud_target(self.name, "a Pulumi program")

    def lint_rules(self) -> tuple[type[Rule], ...]:
        return ()

    def init_snippet(self, *, gpu: bool) -> str:
        return "  local:\n    provider: local\n    port: 8080\n"

    def supports_gpu(self) -> bool:
        return False

    def prices(self, target: LocalTarget) -> NoReturn:
        """A local target runs on this machine and has no price: the error says so."""
        from modelstack.providers import PROVIDERS

        clouds = " or ".join(name for name, p in PROVIDERS.items() if p.is_cloud)
        article = "an" if clouds[:1] in tuple("aeiou") else "a"
        raise CostError(
            f"target '{target.name}' is a local target, which runs on this machine's Docker "
            f"engine and has no price; choose {article} {clouds} target with --target"
        )
