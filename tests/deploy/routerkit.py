"""Pieces for the local router's tests: the router in-process on a free port, real HTTP
backends on 127.0.0.1 that record what reaches them, and raw-socket clients."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelstack.providers.local.router import Router, RouterServer, RouterSettings
from modelstack.providers.local.routes import Revision, Routes, write_routes


@dataclass
class Seen:
    method: str
    path: str
    body: bytes


@dataclass
class RecordingBackend:
    """A real HTTP/1.1 server that records every request it reads and answers 200 with the body.

    `/drop` is read and then the connection is closed without an answer; `/close-after`
    answers and then closes the kept-alive connection without saying so (as an idle timeout
    would); `/stall` answers only once `release` is set (at most 10 s); bodies over
    `max_body` are answered 413 unread, then the connection is closed."""

    max_body: int = 1 << 30
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    closed: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))
    """Released each time the server has closed a connection."""

    def __post_init__(self) -> None:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def finish(self) -> None:
                super().finish()
                self.connection.close()
                backend.closed.release()

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > backend.max_body:
                    self.send_response(413)
                    self.send_header("Content-Length", "0")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.close_connection = True
                    return
                self._answer(self.rfile.read(length))

            def _answer(self, body: bytes) -> None:
                backend.seen.append(Seen(self.command, self.path, body))
                if self.path == "/drop":
                    self.close_connection = True
                    return
                if self.path == "/stall":
                    backend.release.wait(timeout=10)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if self.path == "/close-after":
                    self.close_connection = True

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def running_router(
    tmp_path: Path, routes: Routes, settings: RouterSettings | None = None
) -> Iterator[RouterServer]:
    path = tmp_path / "routes.json"
    write_routes(path, routes)
    server = RouterServer(0, settings or RouterSettings())
    server.router = Router(path)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.router.close()
        server.server_close()


def http_routes(*backends: str) -> Routes:
    return Routes("http", "svc.local", 1, (Revision("1", 100, tuple(backends)),))


def port_of(server: RouterServer) -> int:
    return int(server.server_address[1])


def exchange(port: int, data: bytes, timeout_s: float = 10.0) -> bytes:
    """Send raw bytes, then read until the router closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        # The router may answer and close before taking everything.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def statuses(raw: bytes) -> list[int]:
    """The status codes of every response in a raw byte stream."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] ([0-9]{3}) ", raw)]


def counters(server: RouterServer, version: str = "1") -> dict[str, int]:
    revisions: dict[str, dict[str, int]] = server.router.status()["revisions"]
    return revisions.get(version, {"requests": 0, "errors": 0, "in_flight": 0})


def body_of(raw: bytes) -> Any:
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


class FakeFunctionRuntime:
    """A Lambda function's runtime loop (the real Runtime API protocol over http.client):
    GET next, call `handler`, POST the response or the error. It records every event."""

    def __init__(self, address: str, handler: Any) -> None:
        host, port = address.split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=10)
        self.handler = handler
        self.events: list[Any] = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        prefix = "/2018-06-01/runtime/invocation"
        try:
            while True:
                self.connection.request("GET", f"{prefix}/next")
                response = self.connection.getresponse()
                event = response.read()
                if response.status != 200:
                    return
                request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
                self.events.append(json.loads(event))
                try:
                    body, kind = json.dumps(self.handler(self.events[-1])), "response"
                except Exception as exc:
                    body = json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__,
                                       "stackTrace": ["  File \"fn.py\", line 1"]})  # fmt: skip
                    kind = "error"
                self.connection.request("POST", f"{prefix}/{request_id}/{kind}", body=body)
                self.connection.getresponse().read()
        except OSError:
            return
        finally:
            self.connection.close()


def lambda_routes(runtime_api_port: int) -> Routes:
    return Routes("lambda", "fn.local", 1, (Revision("1", 100, (), runtime_api_port),))


def boto3_lambda(port: int) -> Any:
    import boto3

    return boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


class _QuietServer(ThreadingHTTPServer):
    """A client that leaves before its answer is a case under test, not an error to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)
