"""The one protocol a target provider implements.

A provider is everything modelstack knows about one kind of target (`provider:` in a manifest):
its target dataclass, the image it runs, where that image is pushed, the engine that deploys it,
how a candidate is reached and measured, its Pulumi program and its lint rules. Everything else
in modelstack is provider-neutral and asks the provider through this protocol; nothing outside
`modelstack/providers/` checks which provider a target belongs to.

To add a provider `acme-run`:

1. Create `modelstack/providers/acme_run/` with `target.py` (a frozen dataclass with `name`,
   `provider: Literal["acme-run"]` and `environment`, and `target_from_dict(name, d)` building it
   from the schema-valid manifest mapping) and `provider.py` (a class that subclasses `Provider`,
   or `PulumiCloudProvider` for a cloud deployed through Pulumi, and implements every method
   below without a default).
2. Add the instance to `PROVIDERS` in `modelstack/providers/__init__.py`, the dataclass to
   `Target` in `modelstack/manifest/model.py`, and the target's fields to the JSON schema.
3. Keep the package light: `__init__.py`, `target.py` and `provider.py` import only light
   modules at the top; boto3, docker, pulumi, onnxruntime and numpy are imported inside the
   methods that need them, so `modelstack lint` stays fast.

The optional hooks at the end (event sources, prices, monitoring) answer `NOT_SUPPORTED` unless
a provider overrides them; a capability that needs them calls them and reports the provider as
not supporting it. A provider that prices its targets answers `prices` with a
`modelstack.cost.pricing.TargetPricing` from its own `pricing.py` (imported inside the method),
reading the price tables in its package's `prices/` folder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from modelstack.errors import UsageError

if TYPE_CHECKING:
    import pulumi

    from modelstack.cost.pricing import TargetPricing
    from modelstack.deploy.engine import Engine
    from modelstack.deploy.metrics import ErrorRateReader
    from modelstack.image.registries import Destination
    from modelstack.lint.rule import Rule
    from modelstack.manifest.model import Manifest
    from modelstack.pulumi.spec import ServiceOutputs, ServiceSpec
    from modelstack.smoke.clients import InferenceClient

__all__ = ["NOT_SUPPORTED", "NotSupported", "Provider", "not_a_cloud_target"]

T = TypeVar("T")


class NotSupported:
    """The answer of an optional hook that a provider does not implement."""

    def __repr__(self) -> str:
        return "NOT_SUPPORTED"


NOT_SUPPORTED: Final = NotSupported()


class Provider(Protocol[T]):
    """One kind of target. `T` is its target dataclass."""

    name: str
    """The manifest's `provider:` value, e.g. "aws-lambda"."""
    target_type: type[T]
    """The dataclass a target of this provider is loaded as."""
    is_cloud: bool
    """True when targets deploy through Pulumi to a cloud; False for the local Docker engine."""
    sdk: tuple[str, str] | None
    """(the Pulumi provider SDK module, the modelstack extra that installs it); None: no Pulumi."""

    def target_from_dict(self, name: str, d: dict[str, Any]) -> T:
        """The typed target from its schema-valid manifest mapping."""
        ...

    def flavour(self, target: T) -> str:
        """The image flavour (a key of `modelstack.image.flavours.FLAVOURS`) `target` runs."""
        ...

    def runtime_concurrency(self, target: T) -> int | None:
        """Requests one container serves at once, for the runtime's settings (None: default)."""
        ...

    def destination(self, manifest: Manifest, target_name: str, target: T) -> Destination:
        """Where `--push` sends the image without `--registry`; UsageError when nowhere."""
        ...

    def registry_login(self, host: str) -> dict[str, str] | None:
        """A fresh token for `host` when it is this provider's registry; None otherwise."""
        ...

    def preflight(self, target: T) -> None:
        """Check the tools deploying `target` needs, before anything is built."""
        ...

    def engine(
        self,
        manifest: Manifest,
        target: T,
        *,
        stack: str | None,
        backend: str | None,
        on_output: Callable[[str], None],
    ) -> Engine:
        """The deploy engine for `target`."""
        ...

    def candidate_client(self, manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
        """A client for the candidate the Pulumi program described as `candidate_address`."""
        ...

    def error_rate_reader(self, target: T, min_requests: int) -> ErrorRateReader:
        """Reads a candidate's error rate from the platform's metrics."""
        ...

    def deletion_protected(self, target: T) -> bool:
        """True when the platform refuses to delete `target`'s service unless told to."""
        ...

    def check_spec(self, spec: ServiceSpec) -> None:
        """Provider-specific checks of a resolved ModelService spec; UsageError on a problem."""
        ...

    def build_program(
        self, parent: pulumi.Resource, name: str, spec: ServiceSpec
    ) -> ServiceOutputs:
        """Register the target's resources as children of `parent` (Pulumi SDK imported here)."""
        ...

    def lint_rules(self) -> tuple[type[Rule], ...]:
        """The provider's lint rules (ids in its own range, see `modelstack.lint.rules`)."""
        ...

    def init_snippet(self, *, gpu: bool) -> str:
        """The `targets:` entry `modelstack init --provider NAME` writes (YAML, indented)."""
        ...

    def supports_gpu(self) -> bool:
        """True when `modelstack init --gpu` can scaffold a GPU target for this provider."""
        ...

    def serving_address(
        self, manifest: Manifest, target: T, outputs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Where `target`'s stable endpoint is, as an address `candidate_client` accepts: for a
        cloud target from its stack `outputs` (None while the stack serves nothing), for the
        local target from the target itself."""
        ...

    # Optional hooks for the next capabilities. A provider overrides those it supports.

    def event_sources(self, target: T) -> Any:
        """The event sources (queues, buckets, schedules) `target` can consume from."""
        return NOT_SUPPORTED

    def prices(self, target: T) -> TargetPricing | NotSupported:
        """How `target` is priced: the options that apply, the one it is declared as, its
        price tables, the sizes to measure and the resources that incur the cost. A provider
        whose targets have no price (the local one) raises CostError saying why."""
        return NOT_SUPPORTED

    def monitoring(self, target: T) -> Any:
        """Where `target`'s request metrics and traces are read from."""
        return NOT_SUPPORTED


def not_a_cloud_target(provider: str, what: str) -> UsageError:
    """The error for asking a non-cloud provider for a cloud-only part."""
    return UsageError(f"{what} is for cloud targets; a {provider} target has none")
