"""A local AWS Lambda Runtime API, so Lambda images run off AWS: in `modelstack build`'s
container smoke tests and behind the local target's router.

The function's runtime client (awslambdaric, or the AWS base image's) polls this server:

    GET  /2018-06-01/runtime/invocation/next             the next event (long poll)
    POST /2018-06-01/runtime/invocation/{id}/response    the handler's result       -> 202
    POST /2018-06-01/runtime/invocation/{id}/error       the handler's error        -> 202
    POST /2018-06-01/runtime/init/error                  the handler failed to load -> 202

The container gets `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>` and runs on the host network;
the server binds the loopback address only. Invocations go through an `InvocationBroker`.
Standard library only: the router process imports it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from modelstack.deploy.local.invocations import InvocationBroker

__all__ = ["API_PREFIX", "RuntimeApiServer"]

API_PREFIX: Final = "/2018-06-01/runtime"
_INVOCATION = re.compile(rf"^{API_PREFIX}/invocation/([^/]+)/(response|error)$")
_ERROR_TYPE_HEADER: Final = "Lambda-Runtime-Function-Error-Type"
_MAX_BODY: Final = 20 * 1024 * 1024
_POLL_S: Final = 1.0


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else each small reply waits for a delayed ACK

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the runtime polls constantly; nothing here is worth a line on stderr

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._reply(HTTPStatus.NOT_FOUND, {"errorMessage": f"no route GET {self.path}"})
            return
        broker = self.server.broker
        while not self.server.stopping:
            invocation = broker.next_invocation(timeout_s=_POLL_S)
            if invocation is not None:
                headers = {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": broker.function_arn,
                    "Lambda-Runtime-Trace-Id": f"Root=1-00000000-{invocation.request_id[:24]}",
                }
                self._send(HTTPStatus.OK, invocation.payload, headers)
                return
            if broker.closed is not None:
                break
        self._reply(HTTPStatus.GONE, {"errorMessage": "the local Lambda runtime API stopped"})

    def do_POST(self) -> None:
        text = self.headers.get("Content-Length") or "0"
        length = int(text) if text.isascii() and text.isdigit() else -1
        if length < 0:
            self.close_connection = True
            self._reply(HTTPStatus.BAD_REQUEST, {"errorMessage": "invalid Content-Length"})
            return
        if length > _MAX_BODY:
            self.close_connection = True
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"errorMessage": "body too large"})
            return
        body = self.rfile.read(length) if length else b""
        broker = self.server.broker
        error_type = self.headers.get(_ERROR_TYPE_HEADER)
        if self.path == f"{API_PREFIX}/init/error":
            broker.init_failed(body, error_type)
            self._reply(HTTPStatus.ACCEPTED, {"status": "OK"})
            return
        match = _INVOCATION.match(self.path)
        if match is None:
            self._reply(HTTPStatus.NOT_FOUND, {"errorMessage": f"no route POST {self.path}"})
            return
        request_id, kind = match.groups()
        known = (
            broker.respond(request_id, body)
            if kind == "response"
            else broker.fail(request_id, body, error_type)
        )
        if not known:
            message = f"no invocation {request_id} is running"
            self._reply(
                HTTPStatus.BAD_REQUEST, {"errorMessage": message, "errorType": "InvalidRequestID"}
            )
            return
        self._reply(HTTPStatus.ACCEPTED, {"status": "OK"})

    def _reply(self, status: HTTPStatus, document: Mapping[str, str]) -> None:
        self._send(status, json.dumps(document).encode(), {})

    def _send(self, status: HTTPStatus, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A restarted local router binds the same port again while the old connections of the
    # containers linger in TIME_WAIT (SO_REUSEADDR does not let two servers share a port).
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], broker: InvocationBroker) -> None:
        self.broker = broker
        self.stopping = False
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a runtime that vanished mid-request is the container's story, told by its log


class RuntimeApiServer:
    """The Runtime API on 127.0.0.1 (a free port unless given), served from a thread."""

    def __init__(self, broker: InvocationBroker, port: int = 0) -> None:
        self.broker = broker
        self._httpd = _Server(("127.0.0.1", port), broker)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """`host:port`, the value of AWS_LAMBDA_RUNTIME_API."""
        return f"127.0.0.1:{self._httpd.server_address[1]}"

    def start(self) -> RuntimeApiServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="lambda-runtime-api",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Fail whatever is still waiting, stop serving and close the socket."""
        self._httpd.stopping = True
        self.broker.close("the local Lambda runtime API stopped")
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def __enter__(self) -> RuntimeApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
