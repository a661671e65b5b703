"""Forwarding one request to a container of a revision, over kept-alive connections.

Each router thread keeps its own connection to each container. A request goes to another
container only when nothing of it was sent: the connection was refused, or a kept-alive
connection was found closed before the request was written. Once any byte has been sent it is
never sent again, so no inference runs twice; an early answer (a container refusing an
oversize body with 413 and closing) is read and passed on.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from typing import Final

from modelstack.deploy.local.http1 import HttpError, Message, Stream, read_response
from modelstack.deploy.local.routes import Revision

__all__ = ["HOP_HEADERS", "BackendUnreachable", "close_connections", "forward", "reply_headers"]

HOP_HEADERS: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
     "upgrade", "content-length", "host", "expect"}
)  # fmt: skip
CONNECT_TIMEOUT_S: Final = 5.0


class BackendUnreachable(Exception):
    """No container of the revision answered the request."""


class _Backend:
    __slots__ = ("address", "sock", "stream")

    def __init__(self, address: str, send_timeout_s: float) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self.sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stream = Stream(self.sock, send_timeout_s)

    def closed(self) -> bool:
        """Whether the container has closed this idle connection (or sent something unasked)."""
        return self.stream.peer_closed()

    def close(self) -> None:
        self.sock.close()


_local = threading.local()
_turns = itertools.count()


def forward(revision: Revision, request: Message, *, timeout_s: float, max_body: int) -> Message:
    """The answer of one of the revision's containers; BackendUnreachable when none answered."""
    pool: dict[str, _Backend] = getattr(_local, "pool", None) or {}
    _local.pool = pool
    data = _serialise(request)
    start = next(_turns)
    problem = "no containers"
    for attempt in range(len(revision.backends)):
        address = revision.backends[(start + attempt) % len(revision.backends)]
        backend = pool.pop(address, None)
        if backend is not None and backend.closed():
            backend.close()
            backend = None
        if backend is None:
            try:
                backend = _Backend(address, timeout_s)
            except OSError as exc:  # nothing was sent: another container may take it
                problem = f"{address}: {exc}"
                continue
        response = _exchange(backend, data, request.method, timeout_s, max_body)
        if response.keep_alive:
            pool[address] = backend
        else:
            backend.close()
        return response
    raise BackendUnreachable(problem)


def close_connections() -> None:
    """Close this thread's connections to the containers (its client connection ended)."""
    pool: dict[str, _Backend] = getattr(_local, "pool", None) or {}
    for backend in pool.values():
        backend.close()
    pool.clear()


def _exchange(
    backend: _Backend, data: bytes, method: str, timeout_s: float, max_body: int
) -> Message:
    deadline = time.monotonic() + timeout_s
    try:
        try:
            backend.sock.sendall(data)
        except OSError as exc:  # sent in part: only an answer already on its way can help
            try:
                return _read(backend, deadline, method, max_body, close=True)
            except (OSError, HttpError):
                raise BackendUnreachable(f"{backend.address}: {exc}") from None
        return _read(backend, deadline, method, max_body, close=False)
    except (OSError, HttpError) as exc:
        backend.close()
        detail = exc.message if isinstance(exc, HttpError) else str(exc) or type(exc).__name__
        raise BackendUnreachable(f"{backend.address}: {detail}") from None
    except BackendUnreachable:
        backend.close()
        raise


def _read(backend: _Backend, deadline: float, method: str, max_body: int, close: bool) -> Message:
    response = read_response(
        backend.stream, deadline=deadline, max_body=max_body, head_only=method == "HEAD"
    )
    if close:
        response.headers.append(("Connection", "close"))
    return response


def _serialise(request: Message) -> bytes:
    lines = [f"{request.method} {request.target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{n}: {v}" for n, v in request.headers if n.lower() not in HOP_HEADERS]
    lines.append(f"Content-Length: {len(request.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body


def reply_headers(response: Message, head_only: bool) -> list[tuple[str, str]]:
    """The container's headers that go back to the client (its Content-Length only for HEAD)."""
    return [
        (n, v)
        for n, v in response.headers
        if n.lower() not in HOP_HEADERS or (head_only and n.lower() == "content-length")
    ]
