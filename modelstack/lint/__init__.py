"""`modelstack lint`: schema and semantic checks with positions, in several output formats."""

from __future__ import annotations

from modelstack.lint.diagnostic import Diagnostic, Severity
from modelstack.lint.engine import LintOptions, discover_manifests, lint_file, lint_paths
from modelstack.lint.rules import ALL_RULES, RULES_BY_ID

__all__ = [
    "ALL_RULES",
    "RULES_BY_ID",
    "Diagnostic",
    "LintOptions",
    "Severity",
    "discover_manifests",
    "lint_file",
    "lint_paths",
]
