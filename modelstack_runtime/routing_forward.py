"""A small HTTP/1.1 client that forwards one infer request to a tier's v2 endpoint.

Keep-alive connections are pooled per tier (at most `pool_size` idle ones), every hop waits
at most the tier's `timeout_ms`, and an answer is read only up to `max_response_bytes`. The
request body goes as it came, with its `Content-Type`, binary header length, `x-request-id`
and W3C trace context headers; nothing else of the client's request is passed on.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Mapping
from http import HTTPStatus
from typing import Final

from modelstack_runtime.codec import HEADER_LENGTH_HEADER
from modelstack_runtime.errors import InferenceError
from modelstack_runtime.routing_config import RoutingConfig, TierEndpoint

__all__ = ["FORWARDED_HEADERS", "Forwarder", "TierFailure", "TierRefused", "TierUnavailable"]

FORWARDED_HEADERS: Final = (
    "content-type",
    HEADER_LENGTH_HEADER.lower(),
    "x-request-id",
    "traceparent",
    "tracestate",
)


class TierFailure(Exception):
    """A tier did not answer usefully: down, too slow, a 5xx, or an oversize answer."""


class TierUnavailable(InferenceError):
    """`on_tier_failure: fail`: the tier a request needed failed (503)."""

    status = HTTPStatus.SERVICE_UNAVAILABLE


class TierRefused(InferenceError):
    """A tier refused a routed request as bad (its 4xx, passed on to the client)."""

    def __init__(self, message: str, status: HTTPStatus) -> None:
        super().__init__(message)
        self.status = status  # type: ignore[misc]


class _Pool:
    def __init__(self, tier: TierEndpoint, size: int) -> None:
        self.tier = tier
        self.size = size
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        timeout = self.tier.timeout_ms / 1000.0
        return http.client.HTTPConnection(self.tier.host, self.tier.port, timeout=timeout), False

    def give(self, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(connection)
                return
        connection.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


class Forwarder:
    """Forwards infer requests to the configured tiers."""

    def __init__(self, config: RoutingConfig) -> None:
        self.max_response_bytes = config.max_response_bytes
        self._pools = {name: _Pool(t, config.pool_size) for name, t in config.tiers.items()}

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()

    def infer(
        self, tier: str, body: bytes, headers: Mapping[str, str], *, client_errors: bool
    ) -> tuple[bytes, dict[str, str]]:
        """The tier's 200 answer (body, headers).

        A 4xx raises TierRefused when `client_errors` (the client's request was bad for the
        tier it chose), else TierFailure like any other failure.
        """
        pool = self._pools[tier]
        send = {k: v for k, v in headers.items() if k.lower() in FORWARDED_HEADERS}
        path = f"/v2/models/{pool.tier.model_name}/infer"
        for attempt in (0, 1):
            connection, reused = pool.take()
            try:
                status, reply, reply_headers, keep = self._exchange(connection, path, body, send)
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                if reused and attempt == 0 and _stale(exc):
                    continue  # a kept-alive connection the tier had closed: once more, fresh
                raise TierFailure(_reason(exc, pool.tier)) from None
            if keep:
                pool.give(connection)
            else:
                connection.close()
            return _checked(status, reply, reply_headers, pool.tier, client_errors=client_errors)
        raise TierFailure(f"tier {tier!r} closed the connection")  # pragma: no cover

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> tuple[int, bytes, dict[str, str], bool]:
        connection.request("POST", path, body=body, headers=dict(headers))
        response = connection.getresponse()
        length = response.getheader("Content-Length")
        limit = self.max_response_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            raise TierOversize(f"its answer of {length} bytes is over max_response_bytes ({limit})")
        data = response.read(limit + 1)
        if len(data) > limit:
            raise TierOversize(f"its answer is over max_response_bytes ({limit})")
        reply_headers = {}
        for name in ("Content-Type", HEADER_LENGTH_HEADER):
            value = response.getheader(name)
            if value is not None:
                reply_headers[name] = value
        return response.status, data, reply_headers, not response.will_close


class TierOversize(http.client.HTTPException):
    """The answer is larger than `max_response_bytes`."""


def _stale(exc: BaseException) -> bool:
    return isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))


def _reason(exc: BaseException, tier: TierEndpoint) -> str:
    if isinstance(exc, TierOversize):
        return f"tier {tier.name!r}: {exc}"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"tier {tier.name!r} did not answer within {tier.timeout_ms} ms"
    if isinstance(exc, ConnectionRefusedError):
        return f"tier {tier.name!r} refused the connection"
    return f"tier {tier.name!r}: {type(exc).__name__}"


def _checked(
    status: int,
    reply: bytes,
    headers: dict[str, str],
    tier: TierEndpoint,
    *,
    client_errors: bool,
) -> tuple[bytes, dict[str, str]]:
    if status == HTTPStatus.OK:
        return reply, headers
    if 400 <= status < 500 and client_errors:
        raise TierRefused(_error_text(reply, tier), HTTPStatus(status))
    raise TierFailure(f"tier {tier.name!r} answered {status}")


def _error_text(reply: bytes, tier: TierEndpoint) -> str:
    import json

    try:
        message = json.loads(reply[:4096]).get("error", "")
    except (ValueError, AttributeError):
        message = ""
    return f"tier {tier.name!r}: {message}" if message else f"tier {tier.name!r} refused it"
