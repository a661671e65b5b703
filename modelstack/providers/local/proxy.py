"""Forwarding one request to a container of a revision, over kept-alive connections, on the
router's event loop (`loop`): nothing here blocks.

Idle connections to each container are pooled. A request goes to another container only when
nothing of it was sent: the connection was refused, a pooled connection was found closed
before the request was written, or the first write failed outright. Once any byte has been
sent it is never sent again, so no inference runs twice; an early answer (a container
refusing an oversize body with 413 and closing) is read and passed on.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import select
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Final

from modelstack.providers.local.http1 import HttpError, Message, ResponseFramer, render
from modelstack.providers.local.loop import EventLoop
from modelstack.providers.local.routes import Revision

__all__ = ["HOP_HEADERS", "BackendPool", "Exchange", "error_reply", "forwarded", "json_reply"]

HOP_HEADERS: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
     "upgrade", "content-length", "host", "expect"}
)  # fmt: skip
"""Headers that describe one hop, not the message: the router drops them both ways and frames
each hop itself."""


def _dropping(names: frozenset[str]) -> re.Pattern[bytes]:
    """A pattern that matches each header line (led by its CRLF) named one of `names`."""
    alternatives = b"|".join(re.escape(n.encode()) for n in sorted(names))
    return re.compile(rb"\r\n(?:" + alternatives + rb"):[^\r\n]*", re.IGNORECASE)


_DROP: Final = _dropping(HOP_HEADERS)
_OWN: Final = frozenset({"x-modelstack-revision"})  # set by the router on every answer
_DROP_FROM_ANSWER: Final = _dropping(HOP_HEADERS | _OWN)
_DROP_FROM_BODYLESS: Final = _dropping(HOP_HEADERS - {"content-length"} | _OWN)  # HEAD, 304
MAX_IDLE_PER_CONTAINER: Final = 64
_RECV: Final = 64 * 1024
_IN: Final = select.EPOLLIN
_OUT: Final = select.EPOLLOUT
_turns = itertools.count()

Answer = Callable[[Message], None]
"""Where an exchange delivers the answer for its client (a container's, or the router's 502)."""


class Exchange:
    """One request on its way to a container of `revision` and back. `answer` is called
    exactly once, on the loop's thread, with the message for the client."""

    __slots__ = (
        "_order",
        "_problem",
        "answer",
        "data",
        "deadline",
        "head_only",
        "pool",
        "revision",
    )  # fmt: skip

    def __init__(
        self, pool: BackendPool, revision: Revision, request: Message, answer: Answer
    ) -> None:
        self.pool, self.revision, self.answer = pool, revision, answer
        self.data = _serialise(request)
        self.head_only = request.method == "HEAD"
        self.deadline = time.monotonic() + pool.timeout_s
        backends = revision.backends
        if len(backends) > 1:  # each exchange starts one container further on
            start = next(_turns)
            backends = backends[start % len(backends) :] + backends[: start % len(backends)]
        self._order = list(backends)
        self._problem = "no containers"
        self.try_next()

    def try_next(self, problem: str = "") -> None:
        """Send the request to the next container; nothing of it has been sent anywhere yet."""
        self._problem = problem or self._problem
        while self._order:
            address = self._order.pop(0)
            backend = self.pool.take(address)
            if backend is None:
                try:
                    backend = Backend(self.pool, address)
                except OSError as exc:
                    self._problem = f"{address}: {exc.strerror or exc}"
                    continue
            backend.start(self)
            return
        self.fail(self._problem)

    def fail(self, detail: str) -> None:
        message = f"revision {self.revision.version} unreachable: {detail}"
        self.answer(error_reply(HTTPStatus.BAD_GATEWAY, message))


class Backend:
    """A non-blocking connection to one container: idle in the pool, or carrying one
    exchange (connect, send the request while reading, frame the response)."""

    __slots__ = ("_framer", "_sent", "address", "buffer", "connecting", "deadline", "exchange",
                 "fd", "loop", "pool", "pooled_turn", "sock", "write_failed")  # fmt: skip

    def __init__(self, pool: BackendPool, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.pool, self.loop, self.address = pool, pool.loop, address
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        code = self.sock.connect_ex((host, int(port)))
        if code not in (0, errno.EINPROGRESS):
            self.sock.close()
            raise OSError(code, os.strerror(code))
        self.connecting = code != 0
        self.buffer = bytearray()
        self.exchange: Exchange | None = None
        self.deadline = float("inf")
        self.fd = self.sock.fileno()
        self.pooled_turn = -1
        self._framer = ResponseFramer(pool.max_body, head_only=False)
        self._sent = 0
        self.write_failed = False
        self.loop.register(self, _OUT if self.connecting else 0)

    def start(self, exchange: Exchange) -> None:
        self.exchange, self.deadline = exchange, exchange.deadline
        self._framer.expect(head_only=exchange.head_only)
        self._sent, self.write_failed = 0, False
        if not self.connecting:
            self._write()

    def idle_closed(self) -> bool:
        """Whether the container has closed this idle connection (or sent something unasked)."""
        try:
            self.sock.recv(1, socket.MSG_PEEK)  # b"" (closed) or data: either way unusable
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def on_event(self, events: int) -> None:
        exchange = self.exchange
        if exchange is None:  # idle: the container closed it, or sent something unasked
            self.pool.discard(self)
            return
        if self.connecting:
            code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                self.close()
                exchange.try_next(f"{self.address}: {os.strerror(code)}")
                return
            self.connecting = False
            self._write()
            return
        if events & _OUT:
            self._write()
        if self.exchange is not None and events & ~_OUT:
            self._read()

    def on_deadline(self) -> None:
        exchange = self.exchange
        self.close()
        if exchange is not None:
            exchange.fail(f"{self.address}: no answer within {self.pool.timeout_s:g} s")

    def _write(self) -> None:
        assert self.exchange is not None
        data = self.exchange.data
        try:
            self._sent += self.sock.send(memoryview(data)[self._sent :] if self._sent else data)
        except BlockingIOError:
            pass
        except OSError as exc:
            if self._sent == 0 and not self.buffer:  # nothing sent: another container may take it
                exchange = self.exchange
                self.close()
                exchange.try_next(f"{self.address}: {exc.strerror or exc}")
                return
            self.write_failed = True  # sent in part: only an answer already on its way can help
        done = self._sent == len(data) or self.write_failed
        self.loop.modify(self, _IN if done else _IN | _OUT)

    def _read(self) -> None:
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError as exc:
            self._give_up(exc.strerror or str(exc))
            return
        try:
            if data:
                self.buffer += data
                response = self._framer.take(self.buffer)
            else:
                response = self._framer.at_end(self.buffer)
        except HttpError as exc:
            self._give_up(exc.message)
            return
        if response is not None:
            self._finish(response, reusable=bool(data))

    def _finish(self, response: Message, reusable: bool) -> None:
        exchange = self.exchange
        assert exchange is not None
        self.exchange = None
        whole = self._sent == len(exchange.data) and not self.buffer
        if reusable and whole and response.keep_alive:
            self.pool.put(self)
        else:
            self.close()
        exchange.answer(response)

    def _give_up(self, detail: str) -> None:
        exchange = self.exchange
        self.close()
        if exchange is not None:
            exchange.fail(f"{self.address}: {detail}")

    def close(self) -> None:
        self.exchange = None
        self.loop.unregister(self)
        self.sock.close()


class BackendPool:
    """Idle kept-alive connections to the containers, by address (most recently used first)."""

    def __init__(self, loop: EventLoop, *, timeout_s: float, max_body: int) -> None:
        self.loop, self.timeout_s, self.max_body = loop, timeout_s, max_body
        self._idle: dict[str, list[Backend]] = {}

    def take(self, address: str) -> Backend | None:
        """An idle connection to `address` that the container has not closed, or None.

        The loop has polled since a connection was pooled and saw nothing for it: it is open
        (a close reaches the loop as an event), and is taken without a system call, which on
        a CPU woken from idle costs more than the rest of the request. Otherwise (pooled in
        this batch of events, or an event of its own still to be handled) the kernel is
        asked first."""
        idle = self._idle.get(address)
        loop = self.loop
        while idle:
            backend = idle.pop()
            if backend.pooled_turn < loop.turn and backend.fd not in loop.pending:
                return backend
            if not backend.idle_closed():
                return backend
            backend.close()
        return None

    def put(self, backend: Backend) -> None:
        idle = self._idle.setdefault(backend.address, [])
        if len(idle) >= MAX_IDLE_PER_CONTAINER:
            backend.close()
            return
        backend.deadline, backend.pooled_turn = float("inf"), self.loop.turn
        self.loop.modify(backend, _IN)
        idle.append(backend)

    def discard(self, backend: Backend) -> None:
        idle = self._idle.get(backend.address, [])
        if backend in idle:
            idle.remove(backend)
        backend.close()

    def close(self) -> None:
        for idle in self._idle.values():
            for backend in idle:
                backend.close()
        self._idle.clear()


def error_reply(status: HTTPStatus, message: str) -> Message:
    """A JSON error answer: `{"error": message}`."""
    return json_reply(status, {"error": message})


def json_reply(status: HTTPStatus, document: object) -> Message:
    return Message(
        status=status.value,
        reason=status.phrase,
        headers=[("Content-Type", "application/json")],
        body=json.dumps(document).encode(),
    )


def _serialise(request: Message) -> bytes:
    """The request as it goes to a container: its own header lines less the hop headers."""
    return b"%s %s HTTP/1.1\r\nHost: 127.0.0.1%s\r\nContent-Length: %d\r\n\r\n%s" % (
        request.method.encode("ascii"),
        request.target.encode("ascii"),
        _end_to_end(request, _DROP),
        len(request.body),
        request.body,
    )


def forwarded(response: Message, version: str, *, head_only: bool, close: bool) -> bytes:
    """A container's answer (or the router's 502) as it goes back to the client: its header
    lines less the hop headers, with the revision that answered; framed for the client's
    connection (`http1.render`). An answer to HEAD and a 304 keep the container's
    Content-Length."""
    drop = _DROP_FROM_BODYLESS if head_only or response.status == 304 else _DROP_FROM_ANSWER
    fields = b"%s\r\nX-Modelstack-Revision: %s" % (
        _end_to_end(response, drop),
        version.encode("latin-1"),
    )
    return render(response, close=close, head_only=head_only, fields=fields)


def _end_to_end(message: Message, drop: re.Pattern[bytes]) -> bytes:
    """A message's header lines (each led by its CRLF) less those `drop` matches and those
    its `Connection` header names (RFC 9110 7.6.1)."""
    fields = drop.sub(b"", message.field_lines())
    connection = message.values("connection")
    if not connection:
        return fields
    named = {t.strip().lower() for v in connection for t in v.split(",")} - {"close", "keep-alive"}
    if not named - {""}:
        return fields
    kept = [x for x in fields.split(b"\r\n")[1:] if _name_of(x) not in named]
    return b"".join(b"\r\n" + line for line in kept)


def _name_of(line: bytes) -> str:
    return line.partition(b":")[0].decode("latin-1").lower()
