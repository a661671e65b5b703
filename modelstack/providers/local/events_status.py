"""What `modelstack status` shows of a local target's event sources: the event process and
each queue source's depth."""

from __future__ import annotations

from typing import Any

from modelstack.manifest.model import Manifest, Target

__all__ = ["events_lines", "events_status"]


def events_status(manifest: Manifest, target: Target) -> dict[str, Any] | None:
    """The event process (pid, alive, log) and queue depths; None for a target without
    event sources or one that is not local."""
    from modelstack.providers.local.target import LocalTarget

    if not isinstance(target, LocalTarget):
        return None
    from modelstack.deploy.state import STATE_DIR
    from modelstack.providers.local.events_wiring import events_for

    state_dir = manifest.directory / STATE_DIR / "local" / target.name
    events = events_for(manifest, target, state_dir)
    return None if events is None else events.describe()


def events_lines(report: dict[str, Any] | None) -> list[str]:
    """`status`'s text lines for the report of `events_status`."""
    if report is None:
        return []
    state = "alive" if report["alive"] else "not running (the next `up` starts it)"
    pid = f"pid {report['pid']}, " if report["pid"] is not None else ""
    lines = [f"  events     process {pid}{state}; log {report['log']}"]
    for queue in report["queues"]:
        lines.append(
            f"             {queue['source']}: {queue['depth']} waiting, "
            f"{queue['in_flight']} in flight, {queue['dead_lettered']} dead-lettered"
        )
    if "queues_error" in report:
        lines.append(f"             queue depths unavailable: {report['queues_error']}")
    return lines
