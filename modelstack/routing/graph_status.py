"""What a routed service's graph serves: the entry and each tier, with its target, serving
version, address and health, as `modelstack status` shows it."""

from __future__ import annotations

import http.client
from typing import Any, Final
from urllib.parse import urlsplit

from modelstack.deploy.state import StateStore
from modelstack.errors import ManifestError
from modelstack.manifest.model import Manifest, Target
from modelstack.providers import provider_for
from modelstack.routing.deploy_graph import deploy_order
from modelstack.routing.spec import routing_of

__all__ = ["HEALTH_TIMEOUT_S", "format_graph", "graph_report"]

HEALTH_TIMEOUT_S: Final = 2.0
"""How long `status` waits for one service's `/v2/health/ready`."""


def graph_report(manifest: Manifest, target: Target, stack: str | None) -> dict[str, Any] | None:
    """The graph below a routed `manifest` (None without routing): the entry, then each tier
    in deploy order; `error` says why the tiers cannot be listed."""
    spec = routing_of(manifest)
    if spec is None:
        return None
    report: dict[str, Any] = {
        "on_tier_failure": spec.on_tier_failure,
        "entry": _service(manifest, target, stack),
        "tiers": [],
    }
    try:
        nodes = deploy_order(manifest)
    except ManifestError as exc:
        report["error"] = str(exc)
        return report
    for node in nodes:
        service = _service(node.manifest, node.target, None)
        report["tiers"].append({"tier": node.path, **service})
    return report


def _service(manifest: Manifest, target: Target, stack: str | None) -> dict[str, Any]:
    state = StateStore(manifest.directory, target.name, stack).load()
    provider = provider_for(target)
    address: str | None = state.endpoint or None
    if address is None and not provider.is_cloud:
        found = provider.serving_address(manifest, target, {}) or {}
        address = str(found["url"]) if "url" in found else None
    stable = state.stable
    return {
        "model": manifest.name,
        "target": target.name,
        "provider": target.provider,
        "version": stable.version if stable else None,
        "model_version": stable.model_version if stable else None,
        "address": address,
        "health": _health(address) if address and not provider.is_cloud else "unknown",
    }


def _health(url: str) -> str:
    """`ready`, `not ready` (it answers, but not 200) or `down` (it does not answer)."""
    parts = urlsplit(url)
    if parts.hostname is None or parts.port is None:
        return "unknown"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=HEALTH_TIMEOUT_S)
    try:
        connection.request("GET", f"{parts.path.rstrip('/')}/v2/health/ready")
        return "ready" if connection.getresponse().status == 200 else "not ready"
    except (OSError, http.client.HTTPException):
        return "down"
    finally:
        connection.close()


def format_graph(report: dict[str, Any]) -> list[str]:
    """The text lines of `status` for the graph."""
    lines = [f"  routing    entry and tiers (on_tier_failure: {report['on_tier_failure']})"]
    rows = [("entry", report["entry"])]
    rows += [(f"tier {t['tier']}", t) for t in report["tiers"]]
    for role, s in rows:
        version = (
            f"version {s['version']} ({s['model_version']})" if s["version"] else "not deployed"
        )
        lines.append(
            f"    {role:<14} {s['model']} on {s['target']} ({s['provider']}), {version}, "
            f"{s['address'] or '-'}, {s['health']}"
        )
    if "error" in report:
        lines.append(f"    the tiers cannot be listed: {report['error']}")
    return lines
