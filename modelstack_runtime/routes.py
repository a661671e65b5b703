"""All routes of the v2 REST API in one table, and the dispatcher both adapters share.

Resolving is a pure function of the method and path, so resolved routes are remembered (at
most ``ROUTE_CACHE_ENTRIES``, paths up to ``ROUTE_CACHE_PATH`` characters; refusals are not).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final, NamedTuple
from urllib.parse import unquote

from modelstack_runtime.codec import HEADER_LENGTH_HEADER
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import (
    BadRequest,
    InferenceError,
    MethodNotAllowed,
    ModelNotFound,
    UnsupportedMediaType,
    error_body,
)
from modelstack_runtime.events import eventarc, pubsub, schedule
from modelstack_runtime.metrics import PROMETHEUS_CONTENT_TYPE
from modelstack_runtime.tracing import parse_traceparent

__all__ = [
    "ROUTES",
    "ROUTE_CACHE_ENTRIES",
    "ROUTE_CACHE_PATH",
    "Reply",
    "Route",
    "allowed_methods",
    "error_reply",
    "handle",
    "resolve",
    "resolve_uncached",
    "run_route",
]

_JSON: Final = "application/json"
_HEADER_LENGTH_KEY: Final = HEADER_LENGTH_HEADER.lower()


class Reply(NamedTuple):
    status: HTTPStatus
    body: bytes
    headers: dict[str, str]


# An action gets the data plane, the path parameters, the lower-cased headers and the body.
Action = Callable[[DataPlane, Mapping[str, str], Mapping[str, str], bytes], Reply]


class Route(NamedTuple):
    method: str
    pattern: re.Pattern[str]
    action: Action


def _json_reply(obj: Any, status: HTTPStatus = HTTPStatus.OK) -> Reply:
    return Reply(status, json.dumps(obj).encode(), {"Content-Type": _JSON})


def _flag_reply(key: str, flag: bool) -> Reply:
    return _json_reply({key: flag}, HTTPStatus.OK if flag else HTTPStatus.SERVICE_UNAVAILABLE)


def _server_metadata(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return _json_reply(dp.server_metadata())


def _live(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return _flag_reply("live", dp.live())


def _ready(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return _flag_reply("ready", dp.ready())


def _model_metadata(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return _json_reply(dp.model_metadata(p["name"], p.get("version")))


def _model_ready(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return _flag_reply("ready", dp.model_ready(p["name"], p.get("version")))


def _infer(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    try:
        header_length = _header_length(h)
    except InferenceError as exc:
        dp.log_rejected(p["name"], exc, len(b), h.get("x-request-id"))
        raise
    span = dp.monitoring.tracer.start(parse_traceparent(h.get("traceparent")))
    trace = {} if span is None or span.context is None else {"traceparent": span.context.header()}
    try:
        body, headers = dp.infer(
            p["name"],
            b,
            header_length,
            h.get("content-type"),
            version=p.get("version"),
            request_id=h.get("x-request-id"),
            headers=h,
            span=span,
        )
    except InferenceError as exc:
        exc.headers.update(trace)  # an error answer carries the trace on too
        raise
    headers.update(trace)
    return Reply(HTTPStatus.OK, body, headers)


def _metrics(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return Reply(HTTPStatus.OK, dp.metrics.exposition(), {"Content-Type": PROMETHEUS_CONTENT_TYPE})


def _header_length(h: Mapping[str, str]) -> int | None:
    encoding = h.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        raise UnsupportedMediaType(f"Content-Encoding {encoding!r} is not supported")
    raw_length = h.get(_HEADER_LENGTH_KEY)
    if raw_length is None:
        return None
    try:
        return int(raw_length)
    except ValueError:
        raise BadRequest(f"{HEADER_LENGTH_HEADER} must be an integer, got {raw_length!r}") from None


_MODEL: Final = r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?"

ROUTES: Final[tuple[Route, ...]] = (
    Route("GET", re.compile(r"/v2/?"), _server_metadata),
    Route("GET", re.compile(r"/v2/health/live"), _live),
    Route("GET", re.compile(r"/v2/health/ready"), _ready),
    Route("GET", re.compile(_MODEL + r"/?"), _model_metadata),
    Route("GET", re.compile(_MODEL + r"/ready"), _model_ready),
    Route("POST", re.compile(_MODEL + r"/infer"), _infer),
    Route(
        "POST",
        re.compile(r"/_events/pubsub/(?P<source>[^/]+)"),
        lambda *a: Reply(*pubsub.push_action(*a)),
    ),
    Route(
        "POST",
        re.compile(r"/_events/eventarc/(?P<source>[^/]+)"),
        lambda *a: Reply(*eventarc.eventarc_action(*a)),
    ),
    Route(
        "POST",
        re.compile(r"/_events/schedule/(?P<source>[^/]+)"),
        lambda *a: Reply(*schedule.schedule_action(*a)),
    ),
    Route("GET", re.compile(r"/metrics"), _metrics),
)


def _options(dp: DataPlane, p: Mapping[str, str], h: Mapping[str, str], b: bytes) -> Reply:
    return Reply(HTTPStatus.NO_CONTENT, b"", {"Allow": p["allow"]})


_OPTIONS_ROUTE: Final = Route("OPTIONS", re.compile(r".*"), _options)


def allowed_methods(path: str) -> list[str]:
    """The methods a path answers: HEAD with GET, and OPTIONS everywhere it exists."""
    methods = {route.method for route in ROUTES if path == "*" or route.pattern.fullmatch(path)}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods | {"OPTIONS"}) if methods else []


ROUTE_CACHE_ENTRIES: Final = 256
"""How many resolved (method, path) pairs are remembered."""
ROUTE_CACHE_PATH: Final = 256
"""Only paths up to this length are remembered."""
_resolved: Final[dict[tuple[str, str], tuple[Route, Mapping[str, str]]]] = {}


def resolve(method: str, path: str) -> tuple[Route, Mapping[str, str]]:
    """The route for ``method`` and ``path`` (query string removed) and its parameters.

    HEAD runs the GET route (the adapter leaves out the body); OPTIONS lists the methods.
    """
    key = (method, path)
    found = _resolved.get(key)
    if found is not None:
        return found
    found = resolve_uncached(method, path)
    if len(path) <= ROUTE_CACHE_PATH:
        if len(_resolved) >= ROUTE_CACHE_ENTRIES:
            _resolved.pop(next(iter(_resolved), key), None)  # the oldest entry
        _resolved[key] = found
    return found


def resolve_uncached(method: str, path: str) -> tuple[Route, Mapping[str, str]]:
    """:func:`resolve`, every time; the parameters are read-only."""
    path = path.split("?", 1)[0]
    lookup = "GET" if method == "HEAD" else method
    if method != "OPTIONS":
        for route in ROUTES:
            match = route.pattern.fullmatch(path)
            if match is not None and route.method == lookup:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                return route, MappingProxyType(params)
    allowed = allowed_methods(path)
    if method == "OPTIONS" and allowed:
        return _OPTIONS_ROUTE, MappingProxyType({"allow": ", ".join(allowed)})
    if allowed:
        raise MethodNotAllowed(
            f"{method} is not allowed on {path}; use {' or '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )
    raise ModelNotFound(f"no route for {method} {path}")


def handle(dp: DataPlane, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
    """Dispatch one request; errors become ``{"error": ...}`` replies with their status.

    ``headers`` must have lower-cased names.
    """
    try:
        route, params = resolve(method, path)
    except InferenceError as exc:
        return error_reply(exc)
    return run_route(dp, route, params, headers, body)


def run_route(
    dp: DataPlane,
    route: Route,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
) -> Reply:
    """Run a resolved route; errors become ``{"error": ...}`` replies with their status."""
    try:
        return route.action(dp, params, headers, body)
    except InferenceError as exc:
        return error_reply(exc)


def error_reply(exc: InferenceError) -> Reply:
    return Reply(exc.status, error_body(exc.message), {"Content-Type": _JSON, **exc.headers})
