"""Per-line suppression: `# modelstack: noqa` or `# modelstack: noqa MS301, MS502`."""

from __future__ import annotations

import re

__all__ = ["noqa_lines", "suppressed"]

_NOQA = re.compile(r"#\s*modelstack:\s*noqa\b:?\s*(?P<ids>MS\d{3}(?:[\s,]+MS\d{3})*)?", re.I)


def noqa_lines(text: str) -> dict[int, frozenset[str] | None]:
    """1-based line -> the rule ids it suppresses (None suppresses every rule)."""
    result: dict[int, frozenset[str] | None] = {}
    if "noqa" not in text.lower():
        return result
    for number, line in enumerate(text.splitlines(), start=1):
        match = _NOQA.search(line)
        if match:
            ids = match.group("ids")
            result[number] = frozenset(re.findall(r"MS\d{3}", ids.upper())) if ids else None
    return result


def suppressed(rule_id: str, line: int, table: dict[int, frozenset[str] | None]) -> bool:
    if line not in table:
        return False
    ids = table[line]
    return ids is None or rule_id in ids
