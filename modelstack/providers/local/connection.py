"""One client connection to the local router, served on its event loop (`loop`).

Requests are taken one at a time, strictly framed (`http1.RequestFramer`); the status route
is answered here, anything else goes to a revision (`proxy.Exchange`) and its answer back,
in order. A request that cannot be framed is refused and the connection closed politely: the
router stops writing, then reads and drops what the client still sends for up to `LINGER_S`,
so the client sees the answer rather than a reset.

Deadlines: a connection waiting for its next request is closed after the idle timeout; a
request's head must arrive within the read timeout of its first byte, and its body within the
read timeout of its head (else 408); a client that does not read its answer for the read
timeout is cut off.

The Lambda flavour's Invoke API waits for the function, so such a connection is handed to a
thread of its own (`serve_blocking`) that frames by the same rules.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from modelstack.providers.local.http1 import (
    MAX_HEAD_BYTES,
    HttpError,
    Message,
    RequestFramer,
    Stream,
    read_request,
    render,
)
from modelstack.providers.local.invoke_api import handle_invoke
from modelstack.providers.local.proxy import Exchange, error_reply, forwarded, json_reply
from modelstack.providers.local.routes import Revision
from modelstack.providers.local.table import Router

if TYPE_CHECKING:
    from modelstack.providers.local.router import RouterServer

__all__ = ["LINGER_S", "ClientConnection"]

LINGER_S: Final = 2.0
"""After the last answer on a connection, the router reads and drops what the client still
sends for up to this long before closing."""
_RECV: Final = 64 * 1024
_IN: Final = select.EPOLLIN
_OUT: Final = select.EPOLLOUT
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_IDLE, _HEAD, _BODY, _BUSY = range(4)


class ClientConnection:
    """A client's connection: its read buffer, the request being answered, its pending output."""

    __slots__ = (
        "_pumping",
        "buffer",
        "busy",
        "closed",
        "closing",
        "deadline",
        "framer",
        "lingering",
        "out",
        "peer_done",
        "phase",
        "server",
        "sock",
    )  # fmt: skip

    def __init__(self, server: RouterServer, sock: socket.socket) -> None:
        self.server, self.sock = server, sock
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()
        self.out = bytearray()
        self.framer = RequestFramer(server.settings.max_body_bytes)
        self.busy = False
        self.closed = self.closing = self.lingering = self.peer_done = False
        self._pumping = False
        self.phase = _BUSY  # so that the first `_pump` starts the idle deadline
        self.deadline = float("inf")
        server.loop.register(self, _IN)
        self._pump()

    # Events.

    def on_event(self, events: int) -> None:
        if self.lingering:
            self._drop_input()
            return
        if events & _OUT:
            self._flush()
        if not self.closed and events & select.EPOLLHUP:  # gone both ways: nobody to answer
            self.close()
        elif not self.closed and events & ~_OUT:
            self._read()

    def on_deadline(self) -> None:
        if self.lingering or self.out or self.phase == _IDLE:
            self.close()
        elif self.phase in (_HEAD, _BODY):
            read_s = self.server.settings.read_timeout_s
            self._refuse(
                HTTPStatus.REQUEST_TIMEOUT, f"the request did not arrive within {read_s:g} s"
            )

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.loop.unregister(self)
        self.sock.close()
        self.server.connection_closed()

    # Reading and framing.

    def _read(self) -> None:
        try:
            data = self.sock.recv(_RECV)
        except BlockingIOError:
            return
        except OSError:
            self.close()
            return
        if data:
            self.buffer += data
        else:
            self.peer_done = True
        if self.busy or self.out:
            self._update_mask()
        else:
            self._pump()

    def _pump(self) -> None:
        """Take and answer requests while the connection is free (pipelined ones in order)."""
        self._pumping = True
        try:
            while not (self.busy or self.out or self.closing or self.closed):
                try:
                    request = self.framer.take(self.buffer, self._send_continue)
                except HttpError as exc:
                    self._refuse(exc.status, exc.message)
                    return
                if request is None:
                    self._wait_for_more()
                    return
                self._dispatch(request)
        finally:
            self._pumping = False

    def _wait_for_more(self) -> None:
        if self.peer_done:
            if self.buffer or self.framer.in_body:
                where = "a body" if self.framer.in_body else "a head"
                self._refuse(HTTPStatus.BAD_REQUEST, f"the connection closed inside {where}")
            else:
                self.close()
            return
        phase = _BODY if self.framer.in_body else _HEAD if self.buffer else _IDLE
        if phase != self.phase:
            settings = self.server.settings
            wait = settings.idle_timeout_s if phase == _IDLE else settings.read_timeout_s
            self.phase, self.deadline = phase, time.monotonic() + wait
        self._update_mask()

    def _send_continue(self) -> None:
        self._write(_CONTINUE)

    # Answering.

    def _dispatch(self, request: Message) -> None:
        self.phase, self.deadline = _BUSY, float("inf")
        router = self.server.router
        reply = local_answer(router, request)
        if reply is not None:
            self._answer(request, reply)
            return
        if router.flavour == "lambda":
            self._hand_over(request)
            return
        revision = router.begin(request.header("x-modelstack-revision"))
        if revision is None or not revision.backends:
            if revision is not None:
                router.end(revision.version, failed=True)
            self._answer(request, error_reply(HTTPStatus.SERVICE_UNAVAILABLE, "no revision serves"))
            return
        self.busy = True
        Exchange(
            self.server.pool,
            revision,
            request,
            lambda response: self._proxied(request, revision, response),
        )

    def _proxied(self, request: Message, revision: Revision, response: Message) -> None:
        self.server.router.end(revision.version, failed=response.status >= 500)
        if not self.closed:  # counted first: whoever has the answer can see it in the status
            self.closing = not request.keep_alive
            head_only = request.method == "HEAD"
            data = forwarded(response, revision.version, head_only=head_only, close=self.closing)
            self._write(data)
        self.busy = False
        if not (self.closed or self._pumping):
            self._pump()

    def _answer(self, request: Message, reply: Message) -> None:
        self.closing = not request.keep_alive
        self._write(render(reply, close=self.closing, head_only=request.method == "HEAD"))

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        self.closing = True
        self._write(render(error_reply(status, message), close=True))

    def _write(self, data: bytes) -> None:
        self.out += data
        self._flush()

    def _flush(self) -> None:
        try:
            sent = self.sock.send(self.out)
        except BlockingIOError:
            sent = 0
        except OSError:
            self.close()
            return
        del self.out[:sent]
        if self.out:
            if sent or self.deadline == float("inf"):
                self.deadline = time.monotonic() + self.server.settings.read_timeout_s
            self._update_mask()
            return
        if self.closing:
            self._linger()
        elif not (self._pumping or self.busy):
            self._pump()

    # Closing.

    def _linger(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        if self.peer_done:
            self.close()
            return
        self.lingering = True
        self.buffer.clear()
        self.deadline = time.monotonic() + LINGER_S
        self._update_mask()

    def _drop_input(self) -> None:
        try:
            if self.sock.recv(_RECV):
                return
        except BlockingIOError:
            return
        except OSError:
            pass
        self.close()

    def _update_mask(self) -> None:
        if self.closed:
            return
        if self.lingering:
            mask = _IN
        elif self.out:
            mask = _OUT
        elif self.peer_done or (self.busy and len(self.buffer) > MAX_HEAD_BYTES):
            mask = 0  # nothing to read, or enough read ahead while a request is answered
        else:
            mask = _IN
        self.server.loop.modify(self, mask)

    def _hand_over(self, request: Message) -> None:
        """Serve the rest of this connection on a thread of its own (the Lambda flavour)."""
        self.closed = True
        self.server.loop.unregister(self)
        self.server.connection_closed()
        pending = bytes(self.out)
        self.sock.setblocking(True)
        threading.Thread(
            target=serve_blocking,
            args=(self.server, self.sock, self.buffer, request, pending),
            daemon=True,
        ).start()


def local_answer(router: Router, request: Message) -> Message | None:
    """The router's own answer (the status route), or None for a request it passes on."""
    if not request.target.startswith("/_modelstack/status"):
        return None
    if request.method != "GET":
        return error_reply(HTTPStatus.METHOD_NOT_ALLOWED, "the status is GET only")
    return json_reply(HTTPStatus.OK, router.status())


def serve_blocking(
    server: RouterServer, sock: socket.socket, buffer: bytearray, request: Message, pending: bytes
) -> None:
    """Answer `request` and then every further request on `sock`, blocking, until it ends."""
    settings = server.settings
    stream = Stream(sock, settings.read_timeout_s)
    stream.buffer = buffer
    next_request: Message | None = request
    try:
        sock.sendall(pending)
        while next_request is not None:
            reply = local_answer(server.router, next_request) or handle_invoke(
                server.router, next_request
            )
            keep = next_request.keep_alive
            sock.sendall(render(reply, close=not keep, head_only=next_request.method == "HEAD"))
            if not keep:
                break
            next_request = _next_blocking(stream, server)
    except OSError:
        pass
    finally:
        _close_blocking(sock, stream)


def _next_blocking(stream: Stream, server: RouterServer) -> Message | None:
    settings = server.settings
    sock = stream.sock
    try:
        return read_request(
            stream,
            idle_deadline=time.monotonic() + settings.idle_timeout_s,
            read_s=settings.read_timeout_s,
            max_body=settings.max_body_bytes,
            on_continue=lambda: sock.sendall(_CONTINUE),
        )
    except HttpError as exc:
        sock.sendall(render(error_reply(exc.status, exc.message), close=True))
    except TimeoutError:
        if stream.buffer:
            message = f"the request did not arrive within {settings.read_timeout_s:g} s"
            reply = error_reply(HTTPStatus.REQUEST_TIMEOUT, message)
            sock.sendall(render(reply, close=True))
    return None


def _close_blocking(sock: socket.socket, stream: Stream) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_S
        while stream.fill(deadline):
            stream.buffer.clear()
    except (OSError, TimeoutError):
        pass
    finally:
        sock.close()
