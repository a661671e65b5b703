"""`modelstack optimize`: quantise or convert the model, and adopt it only if the gates pass."""

from __future__ import annotations

import sys

from modelstack.evaluate import format_evaluation
from modelstack.optimize import optimize_manifest


def optimize(
    manifest_path: str,
    *,
    method: str,
    calibration: str | None = None,
    dry_run: bool = False,
    fmt: str = "text",
) -> int:
    """Exit 0 when the candidate passed every gate (and, unless a dry run, was adopted)."""
    outcome = optimize_manifest(
        manifest_path, method=method, calibration=calibration, dry_run=dry_run
    )
    print(format_evaluation(outcome.result, fmt))
    if not outcome.result.passed:
        print(f"{manifest_path}: the {method} candidate failed a gate; nothing was written",
              file=sys.stderr)  # fmt: skip
        return 1
    if outcome.written is None:
        print(f"{manifest_path}: dry run; the {method} candidate passed and was not written",
              file=sys.stderr)  # fmt: skip
    else:
        print(f"{manifest_path}: wrote {outcome.written.name} and set model.path and model.sha256 "
              f"({outcome.sha256})", file=sys.stderr)  # fmt: skip
    return 0
