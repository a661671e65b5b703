"""The runtime config's `routing` object: where each tier answers and what decides.

Written by `modelstack` from the manifest's `routing:` section and the deployed tiers' URLs::

    {"tiers": {"large": {"url": "http://127.0.0.1:8081", "model_name": "digits-large",
                         "timeout_ms": 2000}},
     "escalate": [{"to": "large", "output": "probabilities", "condition": "max_prob_below",
                   "threshold": 0.8}],
     "route": [{"to": "large", "kind": "input_bytes_above", "threshold": 100000}],
     "split": {"key_kind": "header", "key_name": "x-user-id", "weights": {"self": 90, "large": 10}},
     "on_tier_failure": "fallback", "max_response_bytes": 16777216, "pool_size": 8}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from modelstack_runtime.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "EscalateRule",
    "RouteRule",
    "RoutingConfig",
    "Split",
    "TierEndpoint",
    "routing_config",
]

DEFAULT_MAX_RESPONSE_BYTES: Final = 16 * 1024 * 1024
"""`max_response_bytes`: a tier's answer larger than this is a tier failure."""
DEFAULT_POOL_SIZE: Final = 8
"""`pool_size`: idle keep-alive connections kept per tier."""


@dataclass(frozen=True)
class TierEndpoint:
    name: str
    host: str
    port: int
    model_name: str
    timeout_ms: int


@dataclass(frozen=True)
class EscalateRule:
    to: str
    output: str
    condition: str
    threshold: float


@dataclass(frozen=True)
class RouteRule:
    to: str
    kind: str
    name: str | None = None
    dim: int | None = None
    threshold: float | None = None
    equals: Any = None


@dataclass(frozen=True)
class Split:
    key_kind: str
    key_name: str
    weights: dict[str, int]


@dataclass(frozen=True)
class RoutingConfig:
    tiers: dict[str, TierEndpoint]
    escalate: tuple[EscalateRule, ...] = ()
    route: tuple[RouteRule, ...] = ()
    split: Split | None = None
    on_tier_failure: str = "fallback"
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    pool_size: int = DEFAULT_POOL_SIZE


def _tier(name: str, d: Mapping[str, Any]) -> TierEndpoint:
    url = urlsplit(str(d["url"]))
    if url.scheme != "http" or not url.hostname or url.port is None:
        raise ConfigError(f"routing: tier {name!r}: url must be http://HOST:PORT, got {d['url']!r}")
    timeout = int(d.get("timeout_ms", 2000))
    if not 1 <= timeout <= 60000:
        raise ConfigError(f"routing: tier {name!r}: timeout_ms must be 1..60000, got {timeout}")
    return TierEndpoint(name, url.hostname, url.port, str(d["model_name"]), timeout)


def routing_config(data: Mapping[str, Any]) -> RoutingConfig:
    """The typed routing object; ConfigError names a key that is missing or wrong."""
    try:
        tiers = {str(n): _tier(str(n), t) for n, t in data["tiers"].items()}
        split = data.get("split")
        config = RoutingConfig(
            tiers=tiers,
            escalate=tuple(
                EscalateRule(e["to"], e["output"], e["condition"], float(e["threshold"]))
                for e in data.get("escalate", ())
            ),
            route=tuple(
                RouteRule(
                    to=r["to"],
                    kind=r["kind"],
                    name=r.get("name"),
                    dim=r.get("dim"),
                    threshold=r.get("threshold"),
                    equals=r.get("equals"),
                )
                for r in data.get("route", ())
            ),
            split=None
            if split is None
            else Split(split["key_kind"], split["key_name"], dict(split["weights"])),
            on_tier_failure=str(data.get("on_tier_failure", "fallback")),
            max_response_bytes=int(data.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)),
            pool_size=int(data.get("pool_size", DEFAULT_POOL_SIZE)),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"runtime config: routing: missing or invalid {exc}") from None
    named = [r.to for r in config.escalate] + [r.to for r in config.route]
    named += [v for v in (config.split.weights if config.split else {}) if v != "self"]
    for name in named:
        if name not in tiers:
            raise ConfigError(f"runtime config: routing names tier {name!r} without a url")
    if config.on_tier_failure not in ("fallback", "fail"):
        raise ConfigError("runtime config: routing.on_tier_failure must be fallback or fail")
    return config
