"""`FakeEngine`: an in-memory stand-in for a deploy engine, for rollout logic tests.

It records every call, serves each release through the real runtime in-process (a release
whose `model_version` is "broken" answers with shifted labels), and can be told to fail or be
interrupted at a given call. The local Docker engine and the Pulumi engine have their own
tests against the real engine and Pulumi's mocks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from modelstack.deploy.release import Release
from modelstack.errors import InfrastructureError
from modelstack.smoke.clients import InferenceClient, InferenceFailed


class FakeRegressedClient:
    """The real model's answers with every label shifted: a model that regressed."""

    def __init__(self, real: InferenceClient) -> None:
        self.real = real

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.real.infer(inputs)
        return {**outputs, "label": (outputs["label"] + 1) % 3}

    def describe(self) -> str:
        return "a regressed model"

    def close(self) -> None:
        pass


@dataclass
class FakeEngine:
    model: InferenceClient
    """Serves every release: the real runtime in-process over the iris model."""
    calls: list[tuple[str, ...]] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    fail_on: str | None = None
    interrupt_on: str | None = None
    error_rates: dict[str, float] = field(default_factory=dict)

    def _call(self, *call: str) -> None:
        self.calls.append(call)
        if self.interrupt_on and " ".join(call).startswith(self.interrupt_on):
            raise KeyboardInterrupt
        if self.fail_on and " ".join(call).startswith(self.fail_on):
            raise InfrastructureError(f"injected failure at {' '.join(call)}")

    def endpoint(self) -> str:
        return "memory://endpoint"

    def ensure_endpoint(self) -> bool:
        self.calls.append(("ensure endpoint",))
        return True

    def adopt(self) -> Release | None:
        return None

    def prepare_registry(self) -> None:
        self.calls.append(("prepare registry",))

    def deploy_candidate(self, release: Release, stable: Release | None) -> Release:
        self._call("deploy", release.version)
        self.traffic.setdefault(release.version, 0)
        return release

    def candidate_client(self, release: Release) -> InferenceClient:
        if release.model_version == "unreachable":
            raise InferenceFailed("unreachable")
        return FakeRegressedClient(self.model) if release.model_version == "broken" else self.model

    def set_traffic(self, stable: Release | None, candidate: Release, percent: int) -> None:
        self._call("traffic", candidate.version, str(percent))
        self.traffic[candidate.version] = percent
        if stable is not None:
            self.traffic[stable.version] = 100 - percent

    def error_rate(self, release: Release) -> float | None:
        return self.error_rates.get(release.version)

    def promote(self, release: Release, retired: Release | None) -> None:
        self._call("promote", release.version)
        self.traffic = {release.version: 100}

    def abandon(self, stable: Release | None, failed: Release) -> None:
        self.calls.append(("abandon", failed.version))
        self.traffic = {stable.version: 100} if stable else {}

    def destroy(self) -> None:
        self.calls.append(("destroy",))
        self.traffic = {}
