"""`modelstack events --source NAME --trigger`: fire a local target's schedule source now."""

from __future__ import annotations

import json
from typing import Any

from modelstack.errors import InfrastructureError, UsageError
from modelstack.events.spec import EventSource
from modelstack.manifest.model import Manifest, Target

__all__ = ["trigger_schedule"]


def trigger_schedule(
    manifest: Manifest, target: Target, source: EventSource, *, others: tuple[Any, ...] = ()
) -> dict[str, Any]:
    """Invoke the target's `live` alias with the schedule's rescore event, as its cron would;
    the function's answer (the objects rescored and skipped) is returned."""
    if any(value not in (None, False) for value in others):
        raise UsageError("--trigger runs alone; drop --send, --tail and --redrive")
    if source.schedule is None:
        raise UsageError(
            f"event source {source.name} is a {source.kind}; --trigger fires a schedule"
        )
    from modelstack.providers.local.target import LocalTarget, function_name

    if not isinstance(target, LocalTarget) or target.flavour != "lambda":
        raise UsageError(
            f"--trigger fires schedules of a local Lambda-flavour target; target {target.name} "
            "is not one (on AWS, run the EventBridge schedule from its console or CLI)"
        )
    from modelstack.providers.local.local_invoke import invoker
    from modelstack.providers.local.schedule_clock import fire

    invoke = invoker(f"http://127.0.0.1:{target.port}", function_name(manifest.name, target.name))
    try:
        reply, error = fire(source.name, invoke)
    except OSError as exc:
        raise InfrastructureError(
            f"the local target {target.name} does not answer on 127.0.0.1:{target.port} "
            f"({exc}); deploy it first with `modelstack up`"
        ) from None
    try:
        answer = json.loads(reply)
    except ValueError:
        answer = reply[:1024].decode("utf-8", "replace")
    if error:
        raise InfrastructureError(f"schedule {source.name} failed: {json.dumps(answer)[:1024]}")
    return {"source": source.name, "triggered": answer}
