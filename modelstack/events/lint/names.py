from __future__ import annotations

from collections.abc import Iterator

from modelstack.events.lint.sources import raw_events
from modelstack.lint.rule import Finding, LintContext, Rule


class EventNames(Rule):
    id = "MS930"
    summary = "Event source names must be unique"
    description = (
        "Each event source's name names its cloud resources (queue, dead-letter queue, event "
        "source mapping, schedule) and its local poller, so two sources cannot share one."
    )

    def check(self, ctx: LintContext) -> Iterator[Finding]:
        seen: dict[str, int] = {}
        for index, entry in enumerate(raw_events(ctx)):
            name = entry.get("name") if isinstance(entry, dict) else None
            if not isinstance(name, str):
                continue
            if name in seen:
                yield Finding(
                    ("events", index, "name"),
                    f"event source name {name!r} is already used by events[{seen[name]}]; "
                    "give each source its own name",
                )
            else:
                seen[name] = index
