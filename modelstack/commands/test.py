"""`modelstack test`: run every smoke test locally on onnxruntime, in one session."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from modelstack.manifest import load_manifest
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack.smoke.report import format_report
from modelstack.smoke.runner import run_smoke_tests
from modelstack_runtime.dataplane import load_dataplane
from modelstack_runtime.errors import BadRequest
from modelstack_runtime.model import WarmupFailed


def test(manifest_path: str, fmt: str = "text", output: str | None = None) -> int:
    """Exit 0 when every smoke test passes, 1 when any fails."""
    manifest = load_manifest(manifest_path)
    bundle = prepare_local(manifest)
    if not bundle.cases:
        print(f"{manifest_path}: no smoke_tests to run; add some to the manifest", file=sys.stderr)
        return 1
    try:
        dataplane, warmed = load_dataplane(bundle.config), True
    except (WarmupFailed, BadRequest) as exc:
        # The warm-up input is the first smoke test's: run the tests without it to report it.
        print(f"{manifest_path}: warm-up failed: {exc}", file=sys.stderr)
        dataplane, warmed = load_dataplane(dataclasses.replace(bundle.config, warmup=False)), False
    report = run_smoke_tests(bundle.cases, InProcessClient(dataplane, manifest.name))
    text = format_report(report, fmt, manifest.name)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        if fmt != "text":
            print(format_report(report, "text", manifest.name))
    else:
        print(text)
    return 0 if report.passed and warmed else 1
