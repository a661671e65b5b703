"""One HTTP/1.1 connection of the runtime's server: read a request, answer it, repeat.

A request's head and body must arrive within ``request_timeout_s`` of its first byte (a total
deadline, so trickling a byte at a time does not extend it) and no single read waits longer
than ``socket_timeout_s``. Once the server stops, a request still arriving has
``_STOP_READ_S`` left. Errors are answered with ``{"error": ...}`` and, when the framing can
no longer be trusted, the connection is closed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from http import HTTPStatus
from typing import TYPE_CHECKING, Final

from modelstack_runtime.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    InferenceError,
    Overloaded,
    RequestTimeout,
)
from modelstack_runtime.http_wire import MAX_HEAD_BYTES, RequestHead, parse_head, reply_head
from modelstack_runtime.routes import Reply, error_reply, resolve, run_route

if TYPE_CHECKING:
    from modelstack_runtime.http_server import RuntimeHTTPServer

__all__ = ["Connection"]

_STOP_READ_S: Final = 2.0
_RECV: Final = 64 * 1024
_SMALL_BODY: Final = 64 * 1024
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_BLANK: Final = b"\r\n"  # stray blank lines before a request line are skipped


class _Closed(Exception):
    """The peer went away, or an idle connection timed out: close without a reply."""


def _timeval(seconds: float) -> bytes:
    whole = int(seconds)
    micros = int((seconds - whole) * 1e6)
    return struct.pack("ll", whole, micros if whole or micros else 1)  # 0 would mean never


class Connection:
    """Timeouts are the kernel's (SO_RCVTIMEO/SO_SNDTIMEO on a blocking socket): a timed-out
    read raises BlockingIOError, and a read or write costs one system call, not three."""

    def __init__(self, server: RuntimeHTTPServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.buffer = bytearray()
        self.busy = False
        self.deadline = 0.0
        idle = server.config.socket_timeout_s
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(idle))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(idle))
        self._read_timeout = idle

    def run(self) -> None:
        try:
            while self._serve_one():
                pass
        except (_Closed, OSError):
            pass
        finally:
            self.sock.close()
            self.server.connection_closed(self)

    def refuse(self, error: InferenceError) -> None:
        """Answer a connection the server will not serve, and close it."""
        try:
            self._send(error_reply(error), close=True, with_body=True)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()

    def close_if_idle(self) -> None:
        if not self.busy and not self.buffer:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)

    # --- one request -------------------------------------------------------------------------

    def _serve_one(self) -> bool:
        """Answer one request; False when the connection must close."""
        try:
            head = self._read_head()
        except _Closed:
            raise
        except InferenceError as exc:
            self._send(error_reply(exc), close=True, with_body=True)
            return False
        server = self.server
        server.request_started()
        try:
            reply, close = self._answer(head)
            close = close or not head.keep_alive or server.stopping
            self._send(reply, close=close, with_body=head.method != "HEAD")
        finally:
            self.busy = False
            server.request_finished()
        return not close

    def _answer(self, head: RequestHead) -> tuple[Reply, bool]:
        dataplane = self.server.dataplane
        try:
            route, params = resolve(head.method, head.target)
        except InferenceError as exc:
            return error_reply(exc), head.content_length > 0  # the body was not read
        if route.method != "POST":
            if head.content_length:
                try:  # a body on GET is read (within the limits) and ignored
                    dataplane.check_request_size(head.content_length)
                    self._read_body(head)
                except InferenceError as exc:
                    return error_reply(exc), True
            return run_route(dataplane, route, params, head.headers, b""), False
        name = params.get("name", "")
        server = self.server
        try:
            dataplane.check_request_size(head.content_length)
            if not server.take_slot():
                raise Overloaded(
                    f"{server.config.max_concurrency} requests are already in flight; "
                    "retry later (the runtime setting max_concurrency raises the limit)",
                    headers={"Retry-After": "1"},
                )
        except InferenceError as exc:
            dataplane.log_rejected(name, exc, 0, head.headers.get("x-request-id"))
            return error_reply(exc), True
        try:
            try:
                body = self._read_body(head)
            except InferenceError as exc:
                dataplane.log_rejected(name, exc, 0, head.headers.get("x-request-id"))
                return error_reply(exc), True
            return run_route(dataplane, route, params, head.headers, body), False
        finally:
            server.release_slot()

    # --- reading -----------------------------------------------------------------------------

    def _read_head(self) -> RequestHead:
        buffer = self.buffer
        if buffer:  # pipelined bytes: the next request has begun
            self.busy = True
            self.deadline = time.monotonic() + self.server.config.request_timeout_s
        else:  # the common case: one recv brings a whole head, often with its body
            self.busy = False
            chunk = self._recv(idle=True)
            self.busy = True
            self.deadline = time.monotonic() + self.server.config.request_timeout_s
            if not chunk:
                raise _Closed
            end = chunk.find(b"\r\n\r\n")
            if 0 < end <= MAX_HEAD_BYTES and chunk[0] not in _BLANK:
                buffer += memoryview(chunk)[end + 4 :]
                return parse_head(chunk[:end])
            buffer += chunk
        while True:
            del buffer[: len(buffer) - len(buffer.lstrip(b"\r\n"))]  # stray blank lines
            end = buffer.find(b"\r\n\r\n")
            if end >= 0:
                if end > MAX_HEAD_BYTES:
                    raise HeaderFieldsTooLarge(f"the request head exceeds {MAX_HEAD_BYTES} bytes")
                raw = bytes(buffer[:end])
                del buffer[: end + 4]
                return parse_head(raw)
            if len(buffer) > MAX_HEAD_BYTES:
                raise HeaderFieldsTooLarge(f"the request head exceeds {MAX_HEAD_BYTES} bytes")
            chunk = self._recv(idle=False)  # from the first byte on, blank lines count too
            if not chunk:
                raise _Closed
            buffer += chunk

    def _read_body(self, head: RequestHead) -> bytes:
        length = head.content_length
        buffer = self.buffer
        if head.expect_continue and len(buffer) < length:
            self.sock.sendall(_CONTINUE)
        if len(buffer) >= length:
            body = bytes(buffer[:length])
            del buffer[:length]
            return body
        body_buffer = bytearray(length)
        view = memoryview(body_buffer)
        have = len(buffer)
        view[:have] = buffer
        buffer.clear()
        while have < length:
            self._set_timeout(idle=False)
            try:
                got = self.sock.recv_into(view[have:], min(length - have, 1 << 20))
            except (BlockingIOError, TimeoutError):
                raise self._timed_out() from None
            if not got:
                raise BadRequest(f"body ended after {have} of {length} bytes")
            have += got
        return bytes(body_buffer)

    def _recv(self, *, idle: bool) -> bytes:
        self._set_timeout(idle=idle)
        try:
            return self.sock.recv(_RECV)
        except (BlockingIOError, TimeoutError):
            if idle:
                raise _Closed from None
            raise self._timed_out() from None

    def _set_timeout(self, *, idle: bool) -> None:
        server = self.server
        timeout = server.config.socket_timeout_s
        if not idle:
            deadline = self.deadline
            if server.stopping:
                deadline = min(deadline, server.stopped_at + _STOP_READ_S)
            timeout = min(timeout, deadline - time.monotonic())
            if timeout <= 0:
                raise self._timed_out()
        if timeout != self._read_timeout:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(timeout))
            self._read_timeout = timeout

    def _timed_out(self) -> RequestTimeout:
        return RequestTimeout(
            "the request did not arrive in time (runtime settings request_timeout_s and "
            "socket_timeout_s)"
        )

    # --- writing -----------------------------------------------------------------------------

    def _send(self, reply: Reply, *, close: bool, with_body: bool) -> None:
        body = reply.body
        if reply.status == HTTPStatus.NO_CONTENT:
            body = b""
        head = reply_head(reply.status, reply.headers, len(body), close)
        if not with_body:
            self.sock.sendall(head)
        elif len(body) <= _SMALL_BODY:
            self.sock.sendall(head + body)
        else:
            self.sock.sendall(head)
            self.sock.sendall(body)
