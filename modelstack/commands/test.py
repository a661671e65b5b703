"""`modelstack test`: run every smoke test locally on onnxruntime, in one session."""

from __future__ import annotations

from pathlib import Path

from modelstack.errors import SmokeTestError
from modelstack.manifest import load_manifest
from modelstack.smoke.clients import InProcessClient
from modelstack.smoke.local import prepare_local
from modelstack.smoke.report import format_report, junit_error_report
from modelstack.smoke.runner import run_smoke_tests
from modelstack_runtime.dataplane import load_dataplane


def test(manifest_path: str, fmt: str = "text", output: str | None = None) -> int:
    """Exit 0 when every smoke test passes, 1 when any fails.

    With `--format junit`, a run that stops before any test still writes a report: one error
    case that says why, so that CI shows the reason rather than "no test results".
    """
    suite = manifest_path
    try:
        manifest = load_manifest(manifest_path)
        suite = manifest.name
        bundle = prepare_local(manifest)
        if not bundle.cases:
            raise SmokeTestError(
                f"{manifest_path}: no smoke_tests to run; add some to the manifest"
            )
        dataplane = load_dataplane(bundle.config)
        report = run_smoke_tests(bundle.cases, InProcessClient(dataplane, manifest.name))
    except Exception as exc:
        if fmt == "junit":
            _emit(junit_error_report(suite, exc), output)
        raise
    text = format_report(report, fmt, manifest.name)
    _emit(text, output)
    if output and fmt != "text":
        print(format_report(report, "text", manifest.name))
    return 0 if report.passed else 1


def _emit(text: str, output: str | None) -> None:
    """Write a report to `output`, or to stdout without one."""
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
