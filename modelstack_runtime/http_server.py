"""The HTTP adapter: a small HTTP/1.1 server around the data plane, on the stdlib only.

Liveness is served as soon as the socket is bound; readiness only once the model is loaded and
warmed up. Each connection gets a thread (at most ``max_connections`` of them; past that a
connection is answered 503 and closed). Infer requests take one of ``max_concurrency`` slots
for reading, decoding and running them; without a free slot the answer is 503 with
``Retry-After``, so memory and threads stay bounded under any load. Bodies above
``max_request_bytes`` are refused from ``Content-Length`` before a byte is read; a request must
arrive within ``request_timeout_s`` in total and no read waits longer than
``socket_timeout_s``. Every error body is JSON. SIGTERM stops accepting connections, closes
idle ones, gives requests still arriving a short deadline, lets those in flight finish, and
exits 0.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Final

from modelstack_runtime.config import RuntimeConfig, load_config
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import InferenceError, Overloaded
from modelstack_runtime.http_connection import Connection
from modelstack_runtime.logs import configure_logging

__all__ = ["RuntimeHTTPServer", "RuntimeServer", "serve"]

logger = logging.getLogger("modelstack_runtime")

_SHUTDOWN_GRACE_S: Final = 30.0
_BACKLOG: Final = 128


class RuntimeHTTPServer:
    """The listening socket, the open connections and the infer slots."""

    def __init__(self, address: tuple[str, int], dataplane: DataPlane) -> None:
        config = dataplane.config
        self.dataplane = dataplane
        self.config = config
        self.stopping = False
        self.stopped_at = 0.0
        self.socket = socket.create_server(address, backlog=_BACKLOG)
        self.server_address: tuple[str, int] = self.socket.getsockname()[:2]
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._in_flight = 0
        self._free_slots = config.max_concurrency
        self._idle = threading.Condition(self._lock)

    def serve_forever(self) -> None:
        """Accept connections until :meth:`shutdown`."""
        while not self.stopping:
            try:
                sock, _ = self.socket.accept()
            except OSError:
                if self.stopping:
                    return
                continue  # a connection reset before it was accepted
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(self, sock)
            with self._lock:
                full = len(self._connections) >= self.config.max_connections
                if not full:
                    self._connections.add(connection)
            if full:
                connection.refuse(self._too_many())
                continue
            threading.Thread(target=connection.run, daemon=True).start()

    def _too_many(self) -> InferenceError:
        return Overloaded(
            f"more than {self.config.max_connections} open connections; retry later "
            "(the runtime setting max_connections raises the limit)",
            headers={"Retry-After": "1"},
        )

    def shutdown(self) -> None:
        """Stop accepting, close idle connections, and shorten the deadline of arriving ones."""
        with self._lock:
            self.stopping = True
            self.stopped_at = time.monotonic()
            connections = list(self._connections)
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() above
        for connection in connections:
            connection.close_if_idle()

    def server_close(self) -> None:
        self.socket.close()

    def connection_closed(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1
            if self._in_flight == 0 and self.stopping:  # only wait_idle() waits, after stop
                self._idle.notify_all()

    def take_slot(self) -> bool:
        """Take one of the ``max_concurrency`` infer slots; False when all are taken."""
        with self._lock:  # a plain lock: a Semaphore costs a Condition per call
            if not self._free_slots:
                return False
            self._free_slots -= 1
            return True

    def release_slot(self) -> None:
        with self._lock:
            self._free_slots += 1

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


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
        self.httpd = RuntimeHTTPServer((host, port), self.dataplane)
        self._before_ready = before_ready
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def start(self) -> None:
        """Start answering requests (health at once) in a background thread."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
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
        self.httpd.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.httpd.server_close()
        idle = self.httpd.wait_idle(grace_s)
        self.dataplane.close()
        return idle

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
    access = configure_logging(buffered=True)
    try:
        return _serve(started, config, host, port)
    finally:
        access.close()  # every access line is written before the process exits


def _serve(started: float, config: RuntimeConfig | None, host: str | None, port: int | None) -> int:
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
