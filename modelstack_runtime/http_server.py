"""The HTTP adapter: a stdlib threading server around the data plane.

Liveness is served as soon as the socket is bound; readiness only once the model is loaded and
warmed up. Request bodies above ``max_request_bytes`` are refused from ``Content-Length``
before a byte is read, and every connection has a socket timeout so a client that stalls
mid-body is dropped without holding up anyone else. SIGTERM stops accepting connections, lets
requests in flight finish, and exits 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, Final

from modelstack_runtime.config import RuntimeConfig, load_config
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import BadRequest, InferenceError, LengthRequired
from modelstack_runtime.logs import configure_logging
from modelstack_runtime.routes import Reply, error_reply, resolve, run_route

__all__ = ["RuntimeHTTPServer", "RuntimeServer", "serve"]

logger = logging.getLogger("modelstack_runtime")

_SMALL_BODY: Final = 64 * 1024
_SHUTDOWN_GRACE_S: Final = 30.0


class _Handler(BaseHTTPRequestHandler):
    server: RuntimeHTTPServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every small reply waits for a delayed ACK

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.socket_timeout)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http: " + format, *args)

    def _serve(self, method: str) -> None:
        server = self.server
        server.request_started()
        try:
            self._send(self._dispatch(method))
        finally:
            server.request_finished()

    def _dispatch(self, method: str) -> Reply:
        headers = {name.lower(): value for name, value in self.headers.items()}
        raw_length = headers.get("content-length")
        try:
            route, params = resolve(method, self.path)
        except InferenceError as exc:
            if raw_length not in (None, "0"):
                self.close_connection = True  # the body was not read
            return error_reply(exc)
        try:
            body = self._read_body(raw_length, headers)
        except InferenceError as exc:
            self.close_connection = True
            self.server.dataplane.log_rejected(params.get("name", ""), exc, 0)
            return error_reply(exc)
        return run_route(self.server.dataplane, route, params, headers, body)

    def _read_body(self, raw_length: str | None, headers: dict[str, str]) -> bytes:
        if raw_length is None:
            if "transfer-encoding" in headers:
                raise LengthRequired("send the request body with a Content-Length header")
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            length = -1
        if length < 0:
            raise BadRequest(f"invalid Content-Length {raw_length!r}")
        self.server.dataplane.check_request_size(length)
        body = self.rfile.read(length)
        if len(body) != length:
            raise BadRequest(f"body ended after {len(body)} of {length} bytes")
        return body

    def _send(self, reply: Reply) -> None:
        if self.server.stopping:
            self.close_connection = True
        lines = [f"HTTP/1.1 {reply.status.value} {reply.status.phrase}"]
        lines.extend(f"{name}: {value}" for name, value in reply.headers.items())
        lines.append(f"Content-Length: {len(reply.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if len(reply.body) <= _SMALL_BODY:
            self.wfile.write(head + reply.body)
        else:
            self.wfile.write(head)
            self.wfile.write(reply.body)


class RuntimeHTTPServer(ThreadingHTTPServer):
    """A thread per connection, keep-alive, and a count of requests in flight."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], dataplane: DataPlane, socket_timeout: float
    ) -> None:
        self.dataplane = dataplane
        self.socket_timeout = socket_timeout
        self.stopping = False
        self._in_flight = 0
        self._idle = threading.Condition()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (getfqdn); skip it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host if isinstance(host, str) else host.decode()
        self.server_port = int(port)

    def request_started(self) -> None:
        with self._idle:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._idle:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that vanished mid-reply is not a server fault; never print tracebacks.
        logger.debug("connection from %s failed", client_address, exc_info=True)


class RuntimeServer:
    """Bind, serve health at once, load + warm the model, then report ready."""

    def __init__(
        self,
        config: RuntimeConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        before_ready: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.dataplane = DataPlane(None, config)
        self.httpd = RuntimeHTTPServer((host, port), self.dataplane, config.socket_timeout_s)
        self._before_ready = before_ready
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host if isinstance(host, str) else host.decode()}:{self.port}"

    def start(self) -> None:
        """Start answering requests (health at once) in a background thread."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def load(self) -> None:
        """Load and warm up the model; the server is ready afterwards."""
        from modelstack_runtime.model import Model  # onnxruntime: after health is served

        model = Model.load(self.config)
        model.warm_up()
        if self._before_ready is not None:
            self._before_ready()
        self.dataplane.set_model(model)

    def stop(self, grace_s: float = _SHUTDOWN_GRACE_S) -> bool:
        """Stop accepting, wait for requests in flight; False if some were still running."""
        self.httpd.stopping = True
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()
        return self.httpd.wait_idle(grace_s)

    def __enter__(self) -> RuntimeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(grace_s=5.0)


def serve(
    config: RuntimeConfig | None = None, *, host: str | None = None, port: int | None = None
) -> int:
    """Run the HTTP server until SIGTERM/SIGINT; returns the process exit code."""
    started = time.perf_counter()
    configure_logging()
    config = config or load_config()
    host = host or os.environ.get("HOST", "0.0.0.0")
    port = port if port is not None else int(os.environ.get("PORT", "8080"))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = RuntimeServer(config, host=host, port=port)
    server.start()
    logger.info("listening on %s:%d", host, server.port)
    try:
        server.load()
    except Exception:
        logger.exception("model %r failed to load", config.model_name)
        server.stop(grace_s=0.0)
        return 1
    logger.info(
        "model %s version %s ready in %.3f s",
        config.model_name,
        config.model_version,
        time.perf_counter() - started,
    )
    while not stop.wait(1.0):
        pass
    logger.info("shutting down; finishing requests in flight")
    drained = server.stop(_SHUTDOWN_GRACE_S)
    if not drained:
        logger.warning("requests still in flight after %.0f s", _SHUTDOWN_GRACE_S)
    return 0
