"""`modelstack rules`: list every lint rule with its id, severity and summary."""

from __future__ import annotations

from modelstack.lint import ALL_RULES


def rules_table() -> str:
    """The rules as a Markdown table (also used for the README)."""
    lines = ["| id | severity | rule | details |", "|---|---|---|---|"]
    for rule in ALL_RULES:
        details = rule.description.replace("|", "\\|")
        lines.append(f"| {rule.id} | {rule.severity} | {rule.summary} | {details} |")
    return "\n".join(lines)


def rules() -> int:
    print(rules_table())
    return 0
