"""What a deploy engine does. The rollout talks only to this protocol, so the local Docker
target and the cloud targets share one orchestration."""

from __future__ import annotations

from typing import Protocol

from modelstack.deploy.release import Release
from modelstack.smoke.clients import InferenceClient

__all__ = ["Engine"]


class Engine(Protocol):
    """A place where releases run and traffic is split between a stable one and a candidate."""

    def endpoint(self) -> str:
        """The stable endpoint users call (it routes by the current traffic split)."""
        ...

    def ensure_endpoint(self) -> bool:
        """Bring back what the platform lost (a dead local router, stopped containers); False
        when the stable release cannot serve as it is and must be deployed again."""
        ...

    def adopt(self) -> Release | None:
        """The release the platform already serves when no local state knows it (a fresh CI
        runner), or None."""
        ...

    def prepare_registry(self) -> None:
        """Create the repository the image is pushed to, if the platform needs one and it does
        not exist yet (a first deploy into an empty account). Called before the push."""
        ...

    def deploy_candidate(self, release: Release, stable: Release | None) -> Release:
        """Start `release` beside `stable` with no traffic, warm (provisioned) and ready.

        Returns the release with the version id the platform gave it (a Lambda version)."""
        ...

    def candidate_client(self, release: Release) -> InferenceClient:
        """A client that reaches `release` directly, bypassing the traffic split."""
        ...

    def set_traffic(self, stable: Release | None, candidate: Release, percent: int) -> None:
        """Send `percent` of traffic to `candidate` and the rest to `stable`."""
        ...

    def error_rate(self, release: Release) -> float | None:
        """The share of `release`'s requests that failed since it got traffic (None: unknown)."""
        ...

    def promote(self, release: Release, retired: Release | None) -> None:
        """`release` takes all traffic; `retired` is drained, then stopped."""
        ...

    def abandon(self, stable: Release | None, failed: Release) -> None:
        """All traffic back to `stable` (if any); `failed` is removed. Must be idempotent."""
        ...

    def destroy(self) -> None:
        """Remove everything this target created."""
        ...
