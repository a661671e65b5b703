from __future__ import annotations

from collections.abc import Iterator

from modelstack.lint.rule import Finding, LintContext, Rule


class ParseError(Rule):
    """Reported by the framework when the file cannot be read as YAML."""

    id = "MS000"
    summary = "The manifest is not readable YAML"
    description = (
        "The file could not be read or parsed: not a regular file (a directory, device, FIFO "
        "or socket), invalid YAML, not UTF-8, empty, larger than 1 MiB "
        "(MODELSTACK_MAX_MANIFEST_BYTES), a "
        "duplicate key, an unsupported tag, nesting deeper than 64 levels, a recursive alias, "
        "or aliases that expand into too many values. Always reported unless ignored."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        return iter(())
