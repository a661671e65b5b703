"""`modelstack lint`: check manifests without deploying anything."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from modelstack.errors import UsageError
from modelstack.lint import RULES_BY_ID, LintOptions, discover_manifests, lint_file
from modelstack.lint.discovery import is_manifest_name
from modelstack.lint.formatters import FORMATTERS
from modelstack.manifest.files import regular_file_problem


def lint(
    paths: Sequence[str],
    fmt: str = "text",
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    model_checks: bool = True,
) -> int:
    """Exit 0 when clean (warnings allowed), 1 on any error-level finding, 2 on usage errors."""
    for rule_id in (*select, *ignore):
        if not any(r.startswith(rule_id.upper()) for r in RULES_BY_ID):
            raise UsageError(f"unknown rule id '{rule_id}'; `modelstack rules` lists them")
    files = discover_manifests(paths or ["."])
    # Model or input files that no manifest references leave nothing to check: not an error.
    if not files and not (paths and all(_referenced_kind(p) for p in paths)):
        raise UsageError(
            f"no modelstack.yaml or modelstack.yml found under {', '.join(paths or ['.'])}"
        )
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    for given in paths:
        problem = None if os.path.isdir(given) else regular_file_problem(given)
        if problem:
            raise UsageError(f"{given}: {problem}; give a manifest file or a folder to search")
    options = LintOptions(select=select, ignore=ignore, model_checks=model_checks)
    diagnostics = [d for f in files for d in lint_file(f, options)]
    output = FORMATTERS[fmt](diagnostics, len(files))
    if output:
        print(output, file=sys.stdout)
    return 1 if any(d.severity == "error" for d in diagnostics) else 0


def _referenced_kind(path: str) -> bool:
    """A file that is not a manifest, such as a model a pre-commit hook passes."""
    return Path(path).is_file() and not is_manifest_name(Path(path))
