"""`modelstack status`: what a target serves, as its deploy state records it; for a routed
service also its graph (each tier's target, serving version, address and health)."""

from __future__ import annotations

import json
from typing import Any

from modelstack.deploy.release import Release
from modelstack.deploy.state import StateStore
from modelstack.deploy.summary import describe_metrics
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target
from modelstack.providers.local.events_status import events_lines, events_status
from modelstack.routing.graph_status import format_graph, graph_report


def status(
    manifest_path: str, *, target: str | None = None, stack: str | None = None, fmt: str = "text"
) -> int:
    manifest = load_manifest(manifest_path)
    chosen = select_target(manifest, target, default="local")
    state = StateStore(manifest.directory, chosen.name, stack).load()
    report: dict[str, Any] = {
        "model": manifest.name,
        "target": chosen.name,
        "provider": chosen.provider,
        "endpoint": state.endpoint,
        "step": state.step,
        "stable": state.stable.to_dict() if state.stable else None,
        "candidate": state.candidate.to_dict() if state.candidate else None,
        "traffic": _traffic(state.stable, state.candidate, state.candidate_percent),
        "last_smoke": state.last_smoke,
        "evaluation": state.stable.evaluation if state.stable else None,
        "events": events_status(manifest, chosen),
    }
    graph = graph_report(manifest, chosen, stack)
    if graph is not None:
        report["routing"] = graph
    if fmt == "json":
        print(json.dumps(report, indent=2, sort_keys=True))
        return 0
    print(f"{manifest.name} on {chosen.name} ({chosen.provider})")
    print(f"  endpoint   {state.endpoint or '-'}")
    if state.stable is None:
        print("  nothing deployed yet: run `modelstack up`")
    for role, release in (("stable", state.stable), ("candidate", state.candidate)):
        if release is not None:
            share = report["traffic"].get(release.version, 0)
            print(
                f"  {role:<10} version {release.version} ({release.model_version}), "
                f"{share}% of traffic, image {release.image}"
            )
    if state.stable is not None and state.stable.evaluation is not None:
        metrics = describe_metrics(state.stable.evaluation.get("metrics", {}))
        print(f"  evaluation {metrics} (version {state.stable.version}, as `up` measured it)")
    if state.step != "idle":
        print(f"  in progress: {state.step} (the next `up` or `rollback` recovers it)")
    if state.last_smoke:
        passed = sum(1 for r in state.last_smoke if r.get("passed"))
        print(f"  last smoke tests: {passed}/{len(state.last_smoke)} passed")
    for line in format_graph(graph) if graph is not None else ():
        print(line)
    for line in events_lines(report["events"]):
        print(line)
    return 0


def _traffic(stable: Release | None, candidate: Release | None, percent: int) -> dict[str, int]:
    traffic: dict[str, int] = {}
    if stable is not None:
        traffic[stable.version] = 100 - (percent if candidate else 0)
    if candidate is not None:
        traffic[candidate.version] = percent
    return traffic
