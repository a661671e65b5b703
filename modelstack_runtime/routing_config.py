"""The runtime config's `routing` object: where each tier answers and what decides.

Written by `modelstack` from the manifest's `routing:` section and the deployed tiers' URLs::

    {"tiers": {"large": {"url": "http://127.0.0.1:8081", "model_name": "digits-large",
                         "timeout_ms": 2000}},
     "escalate": [{"to": "large", "output": "probabilities", "condition": "max_prob_below",
                   "threshold": 0.8}],
     "route": [{"to": "large", "kind": "input_bytes_above", "threshold": 100000}],
     "split": {"key_kind": "header", "key_name": "x-user-id", "weights": {"self": 90, "large": 10}},
     "on_tier_failure": "fallback", "max_response_bytes": 16777216, "pool_size": 8}

Where a tier answers, one rule: when the entry's environment variable
``MODELSTACK_ROUTING_TIERS`` (a JSON object of tier name to address, written by a cloud
deployment; see ``routing_transports``) names the tier, that address is used and overrides any
``url`` the file gives it, so one image runs wherever it is deployed; its ``model_name`` and
``timeout_ms`` win over the file's too. Otherwise the tier's ``url`` in the file (plain
``http://HOST:PORT``, the local case) is used. A tier that a rule names and that has neither is a
ConfigError when the service starts, never a failure per request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from modelstack_runtime.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "SERVE_ALONE_ENV",
    "TIERS_ENV",
    "EscalateRule",
    "RouteRule",
    "RoutingConfig",
    "Split",
    "TierAddress",
    "TierEndpoint",
    "routing_config",
    "tier_addresses",
]

TIERS_ENV: Final = "MODELSTACK_ROUTING_TIERS"
"""The entry's environment variable naming where its cloud tiers answer."""

SERVE_ALONE_ENV: Final = "MODELSTACK_SERVE_ALONE"
"""Set to 1, a routed service answers every request with its own model, routing nothing: what
the build machine's smoke tests of a cloud entry use, since they cannot reach its tiers."""

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
class TierAddress:
    """A tier reached through a cloud transport: its address from ``MODELSTACK_ROUTING_TIERS``."""

    name: str
    model_name: str
    timeout_ms: int
    address: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.address.get("kind"))


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
    """The tiers reached over plain HTTP (their `url` in the file)."""
    escalate: tuple[EscalateRule, ...] = ()
    route: tuple[RouteRule, ...] = ()
    split: Split | None = None
    on_tier_failure: str = "fallback"
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    pool_size: int = DEFAULT_POOL_SIZE
    addressed: dict[str, TierAddress] = field(default_factory=dict)
    """The tiers reached through a cloud transport (their address from the environment)."""

    def known(self, tier: str) -> bool:
        return tier in self.tiers or tier in self.addressed


def tier_addresses(environ: Mapping[str, str]) -> dict[str, Mapping[str, Any]]:
    """The addresses in ``MODELSTACK_ROUTING_TIERS`` (none when it is unset or empty)."""
    raw = environ.get(TIERS_ENV)
    if not raw:
        return {}
    try:
        addresses = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{TIERS_ENV} is not JSON; the deployment writes it") from None
    if not isinstance(addresses, dict) or not all(isinstance(a, dict) for a in addresses.values()):
        raise ConfigError(f"{TIERS_ENV} must be a JSON object of tier name to address object")
    return addresses


def _timeout(name: str, value: Any) -> int:
    timeout = int(value)
    if not 1 <= timeout <= 60000:
        raise ConfigError(f"routing: tier {name!r}: timeout_ms must be 1..60000, got {timeout}")
    return timeout


def _tier(name: str, d: Mapping[str, Any]) -> TierEndpoint | None:
    if d.get("url") is None:
        return None
    url = urlsplit(str(d["url"]))
    if url.scheme != "http" or not url.hostname or url.port is None:
        raise ConfigError(f"routing: tier {name!r}: url must be http://HOST:PORT, got {d['url']!r}")
    timeout = _timeout(name, d.get("timeout_ms", 2000))
    return TierEndpoint(name, url.hostname, url.port, str(d["model_name"]), timeout)


def _addressed(
    name: str, d: Mapping[str, Any], address: Mapping[str, Any] | None
) -> TierAddress | None:
    if address is None:
        return None
    timeout = _timeout(name, address.get("timeout_ms", d.get("timeout_ms", 2000)))
    model = str(address.get("model_name") or d.get("model_name") or name)
    return TierAddress(name, model, timeout, dict(address))


def _tiers(
    data: Mapping[str, Any], environ: Mapping[str, str]
) -> tuple[dict[str, TierEndpoint], dict[str, TierAddress]]:
    listed = {str(n): t for n, t in (data.get("tiers") or {}).items()}
    env = tier_addresses(environ)
    http: dict[str, TierEndpoint] = {}
    addressed: dict[str, TierAddress] = {}
    for name in [*listed, *(n for n in env if n not in listed)]:
        cloud = _addressed(name, listed.get(name) or {}, env.get(name))
        if cloud is not None:
            addressed[name] = cloud
            continue
        endpoint = _tier(name, listed[name])
        if endpoint is not None:
            http[name] = endpoint
    return http, addressed


def routing_config(
    data: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> RoutingConfig:
    """The typed routing object; ConfigError names a key that is missing or wrong.

    `environ` (default: the process's) may hold ``MODELSTACK_ROUTING_TIERS``.
    """
    try:
        tiers, addressed = _tiers(data, os.environ if environ is None else environ)
        split = data.get("split")
        config = RoutingConfig(
            tiers=tiers,
            addressed=addressed,
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
        if not config.known(name):
            raise ConfigError(
                f"runtime config: routing names tier {name!r} without a url or an address: "
                f"give it a url in routing.tiers or an entry in {TIERS_ENV}"
            )
    if config.on_tier_failure not in ("fallback", "fail"):
        raise ConfigError("runtime config: routing.on_tier_failure must be fallback or fail")
    return config
