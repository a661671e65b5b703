"""Running the rules over manifest files and turning findings into positioned diagnostics."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from modelstack.errors import ManifestParseError
from modelstack.lint.diagnostic import Diagnostic
from modelstack.lint.discovery import discover_manifests
from modelstack.lint.noqa import noqa_lines, suppressed
from modelstack.lint.rule import Finding, LintContext, Rule
from modelstack.lint.rules import ALL_RULES, RULES_BY_ID
from modelstack.lint.usable import usable_manifest
from modelstack.manifest import schema_issues
from modelstack.manifest.secrets import redact
from modelstack.manifest.source import Source, load_source

__all__ = ["LintOptions", "discover_manifests", "lint_file", "lint_paths", "lint_source"]

_NOT_EXPLANATIONS = frozenset({"MS000", "MS001", "MS501"})


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
    manifest = usable_manifest(source, issues)
    ctx = LintContext(source, manifest, schema_issues=issues, model_checks=options.model_checks)
    noqa = noqa_lines(source.text)
    # Rules that are not selected still run (unless they open the model) so that a problem
    # is reported once, under the rule that explains it best: --ignore, --select and noqa
    # then apply to that rule, and do not bring back the schema's message for the same value.
    found = {
        _diagnostic(source, rule, finding)
        for rule in ALL_RULES
        if options.enabled(rule) or not rule.needs_model
        for finding in rule().check(ctx)
    }
    return sorted(
        d
        for d in _once(found)
        if options.enabled(RULES_BY_ID[d.rule_id]) and not suppressed(d.rule_id, d.line, noqa)
    )


def _once(diagnostics: set[Diagnostic]) -> set[Diagnostic]:
    """Each problem reported once: a semantic rule's finding on a value replaces the schema's.

    MS501 does not count: a secret is a problem of its own, not an explanation of the schema's.
    """
    explained = {
        (d.path, d.line, d.column) for d in diagnostics if d.rule_id not in _NOT_EXPLANATIONS
    }
    return {
        d
        for d in diagnostics
        if d.rule_id != "MS001" or (d.path, d.line, d.column) not in explained
    }


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
