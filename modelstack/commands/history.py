"""`modelstack history`: the append-only audit log of deploys (who, what, when, digest)."""

from __future__ import annotations

import json

from modelstack.deploy.state import read_history
from modelstack.deploy.summary import describe_metrics
from modelstack.manifest import load_manifest
from modelstack.manifest.targets import select_target


def history(manifest_path: str, *, target: str | None = None, fmt: str = "text") -> int:
    manifest = load_manifest(manifest_path)
    entries = read_history(manifest.directory)
    if target is not None:
        name = select_target(manifest, target).name  # an unknown target is a usage error
        entries = [e for e in entries if e.get("target") == name]
    if fmt == "json":
        for entry in entries:
            print(json.dumps(entry, sort_keys=True))
        return 0
    if not entries:
        print("no deploys recorded yet")
    for e in entries:
        print(
            f"{e.get('time', '?')}  {e.get('target', '?'):<10} {e.get('event', '?'):<9} "
            f"v{e.get('version', '-'):<4} {e.get('result', '')}  by {e.get('actor', '?')}  "
            f"{e.get('digest', '')}"
        )
        metrics = e.get("metrics")
        if isinstance(metrics, dict):
            print(f"    evaluation: {describe_metrics(metrics)}")
    return 0
