"""Running the rules over manifest files and turning findings into positioned diagnostics."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from modelstack.errors import ManifestParseError
from modelstack.lint.diagnostic import Diagnostic
from modelstack.lint.noqa import noqa_lines, suppressed
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.lint.rules import ALL_RULES
from modelstack.manifest import schema_issues
from modelstack.manifest.model import from_document
from modelstack.manifest.secrets import redact
from modelstack.manifest.source import Source, load_source

__all__ = ["LintOptions", "discover_manifests", "lint_file", "lint_paths", "lint_source"]

MANIFEST_NAMES = ("modelstack.yaml", "modelstack.yml")
_SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".modelstack", ".tox"}


class LintOptions:
    """Which rules run: --select/--ignore take ids or id prefixes (MS3 = every Lambda rule)."""

    def __init__(
        self,
        select: Sequence[str] = (),
        ignore: Sequence[str] = (),
        model_checks: bool = True,
    ) -> None:
        self.select = tuple(s.upper() for s in select)
        self.ignore = tuple(s.upper() for s in ignore)
        self.model_checks = model_checks

    def enabled(self, rule: type[Rule]) -> bool:
        if self.select and not rule.id.startswith(self.select):
            return False
        if self.ignore and rule.id.startswith(self.ignore):
            return False
        return self.model_checks or not rule.needs_model


def discover_manifests(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files as given; directories searched for modelstack.yaml / modelstack.yml."""
    found: list[Path] = []
    for entry in paths:
        path = Path(entry)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                found.extend(Path(root, f) for f in sorted(files) if f in MANIFEST_NAMES)
        else:
            found.append(path)
    return found


def lint_paths(paths: Iterable[str | os.PathLike[str]], options: LintOptions) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    for path in discover_manifests(paths):
        diagnostics.extend(lint_file(path, options))
    return diagnostics


def lint_file(path: str | os.PathLike[str], options: LintOptions | None = None) -> list[Diagnostic]:
    """Every diagnostic for one manifest file, sorted by position."""
    options = options or LintOptions()
    try:
        source = load_source(path)
    except ManifestParseError as exc:
        if options.ignore and "MS000".startswith(options.ignore):
            return []  # a file that cannot be read is never clean, unless MS000 is ignored
        pos = exc.position
        return [
            Diagnostic(
                pos.file,
                pos.line,
                pos.column,
                pos.line,
                pos.column,
                "MS000",
                "error",
                redact(exc.reason),
            )
        ]
    return lint_source(source, options)


def lint_source(source: Source, options: LintOptions | None = None) -> list[Diagnostic]:
    options = options or LintOptions()
    issues = schema_issues(source)
    manifest = from_document(source) if not issues else None
    ctx = LintContext(source, manifest, schema_issues=issues, model_checks=options.model_checks)
    noqa = noqa_lines(source.text)
    diagnostics = []
    for rule in ALL_RULES:
        if not options.enabled(rule):
            continue
        for finding in rule().check(ctx):
            diagnostic = _diagnostic(source, rule, finding)
            if not suppressed(rule.id, diagnostic.line, noqa):
                diagnostics.append(diagnostic)
    return sorted(set(diagnostics))


def _diagnostic(source: Source, rule: type[Rule], finding: Finding) -> Diagnostic:
    span = source.span(finding.path, key=finding.at_key)
    start = span.start(source.file)
    return Diagnostic(
        file=source.file,
        line=start.line,
        column=start.column,
        end_line=span.end_line + 1,
        end_column=span.end_column + 1,
        rule_id=rule.id,
        severity=rule.severity,
        message=redact(finding.message),
        path=redact(".".join(str(p) for p in finding.path)),
    )
