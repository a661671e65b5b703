from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class SchemaViolation(Rule):
    id = "MS001"
    summary = "The manifest breaks the schema"
    description = (
        "A key is unknown, missing or of the wrong type, or a value is outside its allowed set. "
        "Unknown keys suggest the closest valid key; enums list the allowed values."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        for issue in ctx.schema_issues:
            yield Finding(issue.path, issue.message, at_key=issue.at_key)
