"""The local target's stable endpoint: a small router on 127.0.0.1 that splits traffic between
revisions by weight, counts each revision's requests and errors, and drains before removal.

HTTP flavour: every request is proxied to a container of the chosen revision (the header
`X-Modelstack-Revision: N` pins one). Lambda flavour: it speaks the Lambda Invoke API
(`invoke_api`), so boto3 with `endpoint_url` works, and it serves each revision's Runtime API,
which that revision's containers poll.

Requests are framed strictly (`http1`): a request the router cannot frame unambiguously is
answered 400 (or 501, 413, 431) and its connection closed, and such answers, like a body over
the limit, count against no revision. Settings come from the environment of the process that
starts the router (`RouterSettings`).

It runs as its own process (`python -m modelstack.deploy.local.router`) so the endpoint outlives
the `modelstack up` that started it; it imports only the standard library and these modules.
It reads the routing table from a file the engine replaces atomically;
`GET /_modelstack/status` reports the generation it has applied.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from modelstack.deploy.local.http1 import HttpError, Message, Stream, read_request, render
from modelstack.deploy.local.invoke_api import handle_invoke
from modelstack.deploy.local.proxy import (
    BackendUnreachable,
    close_connections,
    forward,
    reply_headers,
)
from modelstack.deploy.local.table import Router
from modelstack.errors import UsageError

__all__ = ["ENV_SETTINGS", "Router", "RouterServer", "RouterSettings", "main"]

ENV_SETTINGS: Final = {
    "max_body_bytes": "MODELSTACK_ROUTER_MAX_BODY_BYTES",
    "read_timeout_s": "MODELSTACK_ROUTER_READ_TIMEOUT_S",
    "idle_timeout_s": "MODELSTACK_ROUTER_IDLE_TIMEOUT_S",
    "backend_timeout_s": "MODELSTACK_ROUTER_BACKEND_TIMEOUT_S",
}
"""Each setting of `RouterSettings` and the environment variable that sets it."""


@dataclass(frozen=True)
class RouterSettings:
    max_body_bytes: int = 64 * 1024 * 1024
    """Larger request bodies are answered 413 by the router, unread, and count against no
    revision (a revision's own `runtime.max_request_bytes` still applies below it)."""
    read_timeout_s: float = 30.0
    """A request's head and body must arrive within this from its first byte (else 408)."""
    idle_timeout_s: float = 60.0
    """A kept-alive connection with no request for this long is closed."""
    backend_timeout_s: float = 60.0
    """A container must answer within this (else 502, the revision's error)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RouterSettings:
        values: dict[str, Any] = {}
        for name, variable in ENV_SETTINGS.items():
            text = env.get(variable)
            if text is None:
                continue
            kind = int if name == "max_body_bytes" else float
            try:
                value = kind(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise UsageError(f"{variable}={text!r}: must be a positive {kind.__name__}")
            values[name] = value
        return cls(**values)


class RouterServer(socketserver.ThreadingTCPServer):
    """Listens on 127.0.0.1:`port`; a thread per connection. `router` is set before serving."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    router: Router

    def __init__(self, port: int, settings: RouterSettings) -> None:
        self.settings = settings
        super().__init__(("127.0.0.1", port), _Connection)


class _Connection(socketserver.BaseRequestHandler):
    server: RouterServer
    request: socket.socket

    def handle(self) -> None:
        try:
            self._serve()
        finally:
            close_connections()

    def _serve(self) -> None:
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        settings = self.server.settings
        stream = Stream(sock, settings.read_timeout_s)
        while True:
            try:
                request = read_request(
                    stream,
                    idle_deadline=time.monotonic() + settings.idle_timeout_s,
                    read_s=settings.read_timeout_s,
                    max_body=settings.max_body_bytes,
                    on_continue=lambda: sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n"),
                )
            except HttpError as exc:
                _send(sock, _json(exc.status, {"error": exc.message}), close=True)
                return
            except TimeoutError:
                if stream.buffer:
                    message = f"the request did not arrive within {settings.read_timeout_s} s"
                    _send(sock, _json(HTTPStatus.REQUEST_TIMEOUT, {"error": message}), close=True)
                return
            except OSError:
                return
            if request is None:
                return
            reply = _dispatch(self.server.router, settings, request)
            keep = request.keep_alive
            try:
                sock.sendall(render(reply, close=not keep, head_only=request.method == "HEAD"))
            except OSError:
                return
            if not keep:
                return


def _dispatch(router: Router, settings: RouterSettings, request: Message) -> Message:
    if request.target.startswith("/_modelstack/status"):
        if request.method != "GET":
            return _json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "the status is GET only"})
        return _json(HTTPStatus.OK, router.status())
    if router.flavour == "lambda":
        return handle_invoke(router, request)
    return _proxy(router, settings, request)


def _proxy(router: Router, settings: RouterSettings, request: Message) -> Message:
    revision = router.begin(request.header("x-modelstack-revision"))
    if revision is None or not revision.backends:
        if revision is not None:
            router.end(revision.version, failed=True)
        return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "no revision serves"})
    failed = True
    try:
        response = forward(
            revision,
            request,
            timeout_s=settings.backend_timeout_s,
            max_body=settings.max_body_bytes,
        )
        failed = response.status >= 500
        headers = reply_headers(response, head_only=request.method == "HEAD")
        headers.append(("X-Modelstack-Revision", revision.version))
        return Message(
            status=response.status, reason=response.reason, headers=headers, body=response.body
        )
    except BackendUnreachable as exc:
        message = f"revision {revision.version} unreachable: {exc}"
        return _json(HTTPStatus.BAD_GATEWAY, {"error": message})
    finally:
        router.end(revision.version, failed)


def _json(status: HTTPStatus, document: Mapping[str, Any]) -> Message:
    return Message(
        status=status.value,
        reason=status.phrase,
        headers=[("Content-Type", "application/json")],
        body=json.dumps(document).encode(),
    )


LINGER_S: Final = 2.0
"""After refusing a request, the router reads and drops what the client still sends for up
to this long before closing, so the client sees the answer rather than a reset."""


def _send(sock: socket.socket, reply: Message, close: bool) -> None:
    try:
        sock.sendall(render(reply, close=close))
        if close:
            sock.shutdown(socket.SHUT_WR)
            _drain(Stream(sock), time.monotonic() + LINGER_S)
    except OSError:
        pass


def _drain(stream: Stream, deadline: float) -> None:
    try:
        while stream.fill(deadline):
            stream.buffer.clear()
    except TimeoutError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="modelstack local target router")
    parser.add_argument("--routes", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the router's pid here")
    args = parser.parse_args(argv)
    try:
        settings = RouterSettings.from_env(os.environ)
    except UsageError as exc:
        parser.error(str(exc))
    server = RouterServer(args.port, settings)  # bind before detaching: a taken port fails
    if args.pid_file is not None:
        _detach(args.pid_file)
    # Threads (the Lambda Runtime APIs) start only now: they would not survive the fork.
    server.router = Router(args.routes)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    print(f"router {os.getpid()} on 127.0.0.1:{args.port}", flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    server.router.close()
    server.server_close()
    return 0


def _detach(pid_file: Path) -> None:
    """Fork: the parent writes the child's pid and exits, the child runs in its own session."""
    child = os.fork()
    if child:
        pid_file.write_text(str(child), encoding="utf-8")
        os._exit(0)
    os.setsid()


if __name__ == "__main__":
    raise SystemExit(main())
