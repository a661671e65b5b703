"""`modelstack test`: run every smoke test locally on onnxruntime, in one session (a routed
service's through its tiers as deployed on this machine)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

from modelstack.errors import SmokeTestError, UsageError
from modelstack.manifest import load_manifest
from modelstack.manifest.model import Manifest
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack.smoke.report import format_report, junit_error_report
from modelstack.smoke.runner import run_smoke_tests
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.dataplane import DataPlane, load_dataplane
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.model import WarmupFailed


def test(manifest_path: str, fmt: str = "text", output: str | None = None) -> int:
    """Exit 0 when every smoke test passes, 1 when any fails.

    With `--format junit`, a run that stops before any test still writes a report: one error
    case that says why, so that CI shows the reason rather than "no test results".
    """
    suite = manifest_path
    try:
        manifest = load_manifest(manifest_path)
        suite = manifest.name
        bundle = prepare_local(manifest, routing=_routing(manifest))
        if not bundle.cases:
            raise SmokeTestError(
                f"{manifest_path}: no smoke_tests to run; add some to the manifest"
            )
        dataplane, warmed = _load(manifest_path, bundle.config)
        client = InProcessClient(dataplane, manifest.name)
        try:
            report = run_smoke_tests(bundle.cases, client)
        finally:
            client.close()
    except Exception as exc:
        if fmt == "junit":
            _emit(junit_error_report(suite, exc), output)
        raise
    text = format_report(report, fmt, manifest.name)
    _emit(text, output)
    if output and fmt != "text":
        print(format_report(report, "text", manifest.name))
    return 0 if report.passed and warmed else 1


def _routing(manifest: Manifest) -> dict[str, Any] | None:
    """A routed manifest's tiers as deployed on this machine, or None (the model alone)."""
    from modelstack.routing.deploy_graph import tier_routing

    try:
        return tier_routing(manifest)
    except UsageError as exc:
        print(f"testing {manifest.name} without its tiers: {exc}", file=sys.stderr)
        return None


def _load(manifest_path: str, config: RuntimeConfig) -> tuple[DataPlane, bool]:
    """The data plane, and whether its warm-up passed."""
    try:
        return load_dataplane(config), True
    except (WarmupFailed, BadRequest) as exc:
        # The warm-up input is the first smoke test's: run the tests without it to report it.
        print(f"{manifest_path}: warm-up failed: {exc}", file=sys.stderr)
        return load_dataplane(dataclasses.replace(config, warmup=False)), False


def _emit(text: str, output: str | None) -> None:
    """Write a report to `output`, or to stdout without one."""
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
