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

Every connection is served on one thread (`loop`, `connection`, `proxy`): a request costs a
few system calls and no hand-off between threads, so the router adds little latency and CPU
to the container behind it (`bench/bench_up.py --router-only` measures both).

It runs as its own process (`python -m modelstack.providers.local.router`) so the endpoint outlives
the `modelstack up` that started it; it imports only the standard library and these modules.
It reads the routing table from a file the engine replaces atomically;
`GET /_modelstack/status` reports the generation it has applied.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import resource
import select
import signal
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from modelstack.errors import UsageError
from modelstack.providers.local.connection import ClientConnection
from modelstack.providers.local.loop import EventLoop
from modelstack.providers.local.proxy import BackendPool
from modelstack.providers.local.table import Router

__all__ = ["ENV_SETTINGS", "Router", "RouterServer", "RouterSettings", "main"]

ENV_SETTINGS: Final = {
    "max_body_bytes": "MODELSTACK_ROUTER_MAX_BODY_BYTES",
    "read_timeout_s": "MODELSTACK_ROUTER_READ_TIMEOUT_S",
    "idle_timeout_s": "MODELSTACK_ROUTER_IDLE_TIMEOUT_S",
    "backend_timeout_s": "MODELSTACK_ROUTER_BACKEND_TIMEOUT_S",
    "max_connections": "MODELSTACK_ROUTER_MAX_CONNECTIONS",
}
"""Each setting of `RouterSettings` and the environment variable that sets it."""
_INTEGERS: Final = frozenset({"max_body_bytes", "max_connections"})


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
    max_connections: int = 512
    """Client connections served at once; past it, new ones wait in the listen backlog."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RouterSettings:
        values: dict[str, Any] = {}
        for name, variable in ENV_SETTINGS.items():
            text = env.get(variable)
            if text is None:
                continue
            kind = int if name in _INTEGERS else float
            try:
                value = kind(text)
            except ValueError:
                value = 0
            if value <= 0:
                raise UsageError(f"{variable}={text!r}: must be a positive {kind.__name__}")
            values[name] = value
        return cls(**values)


class RouterServer:
    """Listens on 127.0.0.1:`port`; every connection is served on one event loop thread
    (`serve_forever`). `router` is set before serving."""

    router: Router

    def __init__(self, port: int, settings: RouterSettings) -> None:
        self.settings = settings
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind(("127.0.0.1", port))
            self.socket.listen(LISTEN_BACKLOG)
        except OSError:
            self.socket.close()
            raise
        self.socket.setblocking(False)
        self.server_address: tuple[str, int] = self.socket.getsockname()
        self.loop = EventLoop()
        self.pool = BackendPool(
            self.loop, timeout_s=settings.backend_timeout_s, max_body=settings.max_body_bytes
        )
        self.connections = 0
        self._listener = _Listener(self)
        self._served = threading.Event()
        self._served.set()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._served.clear()
        try:
            self.loop.register(self._listener, select.EPOLLIN)
            self.loop.run(poll_interval)
        finally:
            self._served.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` and wait until it has returned (from another thread)."""
        self.loop.stop()
        self._served.wait()

    def server_close(self) -> None:
        self.pool.close()
        self.loop.close()
        self.socket.close()

    def connection_opened(self) -> None:
        self.connections += 1

    def connection_closed(self) -> None:
        self.connections -= 1
        self._listener.resume()


LISTEN_BACKLOG: Final = 128
ACCEPT_BURST: Final = 64
ACCEPT_PAUSE_S: Final = 0.1
"""After running out of file descriptors, accepting pauses for this long."""


class _Listener:
    """Accepts connections, up to `max_connections` at once."""

    def __init__(self, server: RouterServer) -> None:
        self.server = server
        self.sock = server.socket
        self.deadline = float("inf")
        self.paused = False

    def on_event(self, events: int) -> None:
        server = self.server
        for _ in range(ACCEPT_BURST):
            if server.connections >= server.settings.max_connections:
                self._pause(float("inf"))
                return
            try:
                sock, _ = self.sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    self._pause(time.monotonic() + ACCEPT_PAUSE_S)
                return
            server.connection_opened()
            ClientConnection(server, sock)

    def on_deadline(self) -> None:
        self.resume()

    def resume(self) -> None:
        if self.paused and self.server.connections < self.server.settings.max_connections:
            self.paused, self.deadline = False, float("inf")
            self.server.loop.modify(self, select.EPOLLIN)

    def close(self) -> None:
        self.server.loop.unregister(self)
        self.sock.close()

    def _pause(self, until: float) -> None:
        self.paused, self.deadline = True, until
        self.server.loop.modify(self, 0)


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
    _raise_open_files_limit()
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


def _raise_open_files_limit() -> None:
    """Each client connection holds a descriptor, and one to a container while proxied."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 16
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _detach(pid_file: Path) -> None:
    """Fork: the parent writes the child's pid and exits, the child runs in its own session."""
    child = os.fork()
    if child:
        pid_file.write_text(str(child), encoding="utf-8")
        os._exit(0)
    os.setsid()


if __name__ == "__main__":
    raise SystemExit(main())
