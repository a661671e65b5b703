"""Pre-traffic smoke tests against a cloud candidate, as the Pulumi gate and `up` run them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelstack.errors import SmokeTestError, UsageError
from modelstack.manifest.model import Manifest
from modelstack.providers import PROVIDERS
from modelstack.smoke.clients import InferenceClient
from modelstack.smoke.local import prepare_local
from modelstack.smoke.report import format_report
from modelstack.smoke.runner import SmokeReport, run_smoke_tests

__all__ = ["candidate_client", "run_candidate_smoke_tests"]


def candidate_client(manifest: Manifest, address: Mapping[str, Any]) -> InferenceClient:
    """A client for a candidate described by the component's `candidate_address` output."""
    provider = address.get("provider")
    known = PROVIDERS.get(provider) if isinstance(provider, str) else None
    if known is None:
        raise UsageError(f"cannot smoke-test a candidate on provider {provider!r}")
    return known.candidate_client(manifest, address)


def run_candidate_smoke_tests(
    manifest: Manifest, target: str, address: Mapping[str, Any]
) -> SmokeReport:
    """Run every smoke test against the candidate; SmokeTestError with the report if any fails."""
    bundle = prepare_local(manifest)
    client = candidate_client(manifest, address)
    try:
        report = run_smoke_tests(bundle.cases, client)
    finally:
        client.close()
    if not report.passed:
        raise SmokeTestError(
            f"smoke tests failed against the {target} candidate; traffic was not moved:\n"
            + format_report(report, "text", manifest.name)
        )
    return report
