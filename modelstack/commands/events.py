"""`modelstack events MANIFEST`: the event sources of a target, their queues and results."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from modelstack.errors import UsageError
from modelstack.events.spec import EventSource, parse_events
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target
from modelstack.providers import provider_for
from modelstack.pulumi.naming import base_name

__all__ = ["FORMATS", "MAX_TAIL", "events"]

FORMATS = ("text", "json")
MAX_TAIL = 100


def events(
    manifest: str,
    *,
    target: str | None = None,
    source: str | None = None,
    send: str | None = None,
    tail: int | None = None,
    redrive: bool = False,
    trigger: bool = False,
    fmt: str = "text",
) -> int:
    """Queue counts by default; --send, --tail, --redrive or --trigger act on one source."""
    loaded = load_manifest(manifest)
    chosen = select_target(loaded, target)
    sources = parse_events(loaded.source.data.get("events"))
    if not sources:
        raise UsageError(f"{loaded.path} has no events: section")
    if trigger:
        from modelstack.providers.local.trigger import trigger_schedule

        _print(
            trigger_schedule(loaded, chosen, _one(sources, source), others=(send, tail, redrive)),
            fmt,
        )
        return 0
    provider = provider_for(chosen)
    if provider.is_cloud and (provider.sdk is None or provider.sdk[1] != "aws"):
        raise UsageError(f"target {chosen.name} ({provider.name}) has no SQS queues to show")
    from modelstack.events.queues import Queues, read_messages

    queues = Queues(
        base_name(loaded, chosen.name),
        local=not provider.is_cloud,
        region=getattr(chosen, "region", None),
    )
    if sum(bool(x) for x in (send, tail is not None, redrive)) > 1:
        raise UsageError("--send, --tail and --redrive each run alone; pass one of them")
    result: dict[str, Any]
    if send is not None:
        picked = _one(sources, source)
        path = Path(send)
        if picked.bucket is not None:
            result = {"source": picked.name, "key": queues.put_object(picked, path)}
        else:
            _need_queue(picked)
            result = {"source": picked.name, "sent": queues.send(picked, read_messages(path))}
    elif tail is not None:
        if not 1 <= tail <= MAX_TAIL:
            raise UsageError(f"--tail takes 1-{MAX_TAIL} results")
        picked = _one(sources, source)
        result = {"source": picked.name, "results": queues.tail(picked, tail)}
    elif redrive:
        picked = _need_queue(_one(sources, source))
        result = {"source": picked.name, "redriven": queues.redrive(picked)}
    else:
        rows = [asdict(queues.counts(s)) for s in sources if s.queue is not None]
        result = {"queues": rows}
    _print(result, fmt)
    return 0


def _one(sources: tuple[EventSource, ...], name: str | None) -> EventSource:
    if name is not None:
        for source in sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in sources)
        raise UsageError(f"no event source named {name!r}; the manifest has: {known}")
    if len(sources) == 1:
        return sources[0]
    raise UsageError(f"pick one with --source: {', '.join(s.name for s in sources)}")


def _need_queue(source: EventSource) -> EventSource:
    if source.queue is None:
        raise UsageError(f"event source {source.name} is a {source.kind}, not a queue")
    return source


def _print(result: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
        return
    if "queues" in result:
        print(f"{'source':<20} {'queue':<40} {'depth':>7} {'in-flight':>9} {'dead':>7}")
        for row in result["queues"]:
            print(
                f"{row['source']:<20} {row['queue']:<40} {row['depth']:>7} "
                f"{row['in_flight']:>9} {row['dead_lettered']:>7}"
            )
        return
    for key, value in result.items():
        if isinstance(value, list):
            for item in value:
                print(json.dumps(item, sort_keys=True, default=str))
        else:
            print(f"{key}: {value}")
