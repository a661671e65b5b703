"""The part every cloud provider shares: it deploys through Pulumi (`modelstack.deploy.cloud`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from modelstack.providers.protocol import Provider

if TYPE_CHECKING:
    from modelstack.deploy.engine import Engine
    from modelstack.manifest.model import Manifest

__all__ = ["PulumiCloudProvider"]


class _Named(Protocol):
    @property
    def name(self) -> str: ...


T = TypeVar("T", bound=_Named)


class PulumiCloudProvider(Provider[T]):
    """A provider whose targets deploy through the Pulumi engine, one stack per target."""

    is_cloud = True

    def preflight(self, target: T) -> None:
        from modelstack.deploy.pulumi_cli import require_pulumi_cli

        require_pulumi_cli()

    def engine(
        self,
        manifest: Manifest,
        target: T,
        *,
        stack: str | None,
        backend: str | None,
        on_output: Callable[[str], None],
    ) -> Engine:
        from modelstack.deploy.cloud import pulumi_engine

        return pulumi_engine(
            manifest, target.name, stack=stack, backend=backend, on_output=on_output
        )
