"""The smoke-test gate: a Pulumi resource hook that tests the candidate before traffic moves.

`ModelService` binds the hook to the resource whose change moves traffic:

* aws-lambda: the `live` alias, `before_create` and `before_update`. The new function version
  has been published by then (the alias depends on it) but the alias still points where it
  did, so a failing smoke test stops the update before any request reaches the candidate.
* gcp-cloud-run: the service, which creates the revision and routes traffic in one resource.
  When the candidate deploys without traffic (`candidate_percent=0`, or the first deployment)
  the hook runs `after_create`/`after_update` against the new revision's `candidate` tag URL;
  a failure fails the deployment while traffic stays on the stable revision. When traffic
  shifts (`candidate_percent > 0`), it runs `before_update` against the tag URL of the
  revision already deployed, and refuses to shift traffic to a revision that was never
  deployed (and tested) at 0 %.

The hook calls a *runner* `(manifest, target name, candidate address) -> None` that raises
when a smoke test fails. The default runner is
`modelstack.smoke.candidate.run_candidate_smoke_tests`, imported when the hook first runs.
Hooks run during `pulumi up`, not during `pulumi preview`, and not under Pulumi's unit-test
mocks: test a gate by calling the hook function directly. An error from an `after_*` hook fails
the deployment with current Pulumi releases (the SDK this was built against, 3.272); older CLIs
only logged a warning for it, which would leave the Cloud Run no-traffic gate advisory.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import pulumi

from modelstack.errors import SmokeTestError
from modelstack.manifest.model import Manifest
from modelstack.pulumi.args import SmokeRunner

__all__ = ["CandidateLocator", "HookFunction", "default_runner", "smoke_gate"]

CandidateLocator = Callable[
    [pulumi.ResourceHookArgs], Mapping[str, Any] | Awaitable[Mapping[str, Any]]
]
"""Finds the candidate's address from the hook's arguments (or from resolved outputs)."""

HookFunction = Callable[[pulumi.ResourceHookArgs], Awaitable[None]]


def default_runner(manifest: Manifest, target_name: str, address: dict[str, Any]) -> None:
    """Run the manifest's smoke tests against the candidate at `address`."""
    from modelstack.smoke.candidate import run_candidate_smoke_tests

    run_candidate_smoke_tests(manifest, target_name, address)


def smoke_gate(
    manifest: Manifest,
    target_name: str,
    locate: CandidateLocator,
    runner: SmokeRunner | None = None,
) -> HookFunction:
    """A resource hook function that smoke-tests the candidate and fails the step on failure.

    `locate` returns the candidate's address (for Lambda `function_name`, `qualifier`,
    `region`; for Cloud Run `url`, `revision`, `tag`); `runner` defaults to
    `default_runner`. The raised SmokeTestError's text is what `pulumi up` reports.
    """
    run = runner or default_runner

    async def modelstack_smoke_gate(args: pulumi.ResourceHookArgs) -> None:
        found = locate(args)
        address = dict(await found if inspect.isawaitable(found) else found)
        try:
            await asyncio.to_thread(run, manifest, target_name, address)
        except Exception as exc:
            where = ", ".join(f"{k}={v}" for k, v in sorted(address.items()))
            raise SmokeTestError(
                f"smoke gate: the candidate of {manifest.name} (target {target_name}; {where}) "
                f"failed its smoke tests, so traffic does not move to it:\n{exc}"
            ) from exc

    return modelstack_smoke_gate
