"""Reading manifests: safe YAML with positions, schema validation, typed objects."""

from __future__ import annotations

import os

from modelstack.errors import ManifestError
from modelstack.manifest.model import Manifest, from_document
from modelstack.manifest.source import Source, load_source, parse_source
from modelstack.manifest.validator import SchemaIssue, validate
from modelstack.resources import load_schema

__all__ = [
    "Manifest",
    "SchemaIssue",
    "Source",
    "load_manifest",
    "manifest_from_source",
    "parse_source",
    "schema_issues",
]


def schema_issues(source: Source) -> list[SchemaIssue]:
    """Every way in which the parsed document breaks the manifest schema."""
    if not isinstance(source.data, dict):
        kind = "a list" if isinstance(source.data, list) else "a single value"
        return [
            SchemaIssue(
                (),
                f"the top level is {kind}; a manifest is a mapping that starts with "
                "'apiVersion: modelstack.dev/v1' and 'kind: ModelService'",
            )
        ]
    return validate(source.data, load_schema())


def manifest_from_source(source: Source) -> Manifest:
    """Typed manifest from a parsed document; raises ManifestError listing every schema issue.

    Platform limits that a lint rule explains (`x-lint-rule` in the schema) are lint's to
    report, as before they were in the schema: they do not stop `destroy` or `status`.
    """
    issues = [i for i in schema_issues(source) if not i.lint_rule]
    if issues:
        lines = [f"{source.position(i.path, key=i.at_key)}: {i.message}" for i in issues]
        raise ManifestError(
            f"{source.file} is not a valid manifest ({len(issues)} problem(s)):\n  "
            + "\n  ".join(lines)
        )
    return from_document(source)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Load and validate the manifest at `path`.

    Raises ManifestParseError for unreadable YAML and ManifestError for schema problems; both
    name the file, line and column. Semantic checks (the model, platform limits) are lint rules:
    run `modelstack.lint.lint_paths` for them.
    """
    return manifest_from_source(load_source(path))
