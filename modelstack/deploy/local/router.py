"""The local target's stable endpoint: a small router on 127.0.0.1 that splits traffic between
revisions by weight, counts each revision's requests and errors, and drains before removal.

HTTP flavour: every request is proxied to a container of the chosen revision (the header
`X-Modelstack-Revision: N` pins one). Lambda flavour: it speaks the Lambda Invoke API
(`POST /2015-03-31/functions/NAME/invocations?Qualifier=N`), so boto3 with `endpoint_url`
works, and it serves each revision's Runtime API, which that revision's containers poll.

It runs as its own process (`python -m modelstack.deploy.local.router`) so the endpoint outlives
the `modelstack up` that started it. It reads the routing table from a file the engine
replaces atomically; `GET /_modelstack/status` reports the generation it has applied.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import re
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from modelstack.deploy.local.routes import Revision, Routes, read_routes
from modelstack.image.invocations import InvocationBroker, InvocationFailed
from modelstack.image.lambda_runtime_api import RuntimeApiServer

__all__ = ["Router", "main"]

MAX_BODY = 64 * 1024 * 1024
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class _Counters:
    requests: int = 0
    errors: int = 0
    in_flight: int = 0


class Router:
    """The routing table, per-revision counters, and (Lambda) per-revision Runtime APIs."""

    def __init__(self, routes_path: Path) -> None:
        self.routes_path = routes_path
        self._lock = threading.Lock()
        self._routes = Routes("http", "", -1)
        self._file_id: tuple[int, int] | None = None
        self._checked = 0.0
        self._error = ""
        self._counters: dict[str, _Counters] = {}
        self._credit: dict[str, int] = {}
        self._runtimes: dict[str, RuntimeApiServer] = {}
        self.reload()

    def reload(self) -> Routes:
        """The current table, re-read when the file was replaced (checked every 20 ms).

        A table that cannot be read or applied is reported in the status and otherwise
        ignored: the last good table keeps serving.
        """
        now = time.monotonic()
        if now - self._checked < 0.02:
            return self._routes
        with self._lock:
            self._checked = now
            try:
                stat = self.routes_path.stat()
                file_id = (stat.st_ino, stat.st_mtime_ns)
                if file_id != self._file_id:
                    routes = read_routes(self.routes_path)
                    if routes is not None and routes.generation > self._routes.generation:
                        stopped = self._apply(routes)
                        self._routes = routes
                        for server in stopped:
                            threading.Thread(target=server.stop, daemon=True).start()
                    self._file_id, self._error = file_id, ""
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._error = f"cannot apply {self.routes_path.name}: {exc}"
            return self._routes

    def _apply(self, routes: Routes) -> list[RuntimeApiServer]:
        """Start Runtime APIs for new Lambda revisions; return those to stop (outside the lock)."""
        wanted = {r.version: r for r in routes.revisions if r.runtime_api_port}
        stopped = [self._runtimes.pop(v) for v in list(self._runtimes) if v not in wanted]
        for version, revision in wanted.items():
            if version not in self._runtimes:
                assert revision.runtime_api_port is not None
                broker = InvocationBroker(routes.function_name)
                self._runtimes[version] = RuntimeApiServer(
                    broker, revision.runtime_api_port
                ).start()
        for version in [v for v in self._credit if routes.revision(v) is None]:
            del self._credit[version]
        return stopped

    def begin(self, qualifier: str | None = None) -> Revision | None:
        """Choose a revision (pinned, or by smooth weighted round robin) and count the request
        as in flight, in one step, so a drain never misses a request being routed."""
        routes = self.reload()
        with self._lock:
            if qualifier not in (None, "", "live", "$LATEST"):
                chosen = routes.revision(str(qualifier))
            else:
                live = [r for r in routes.revisions if r.weight > 0]
                chosen = None
                if live:
                    total = sum(r.weight for r in live)
                    for r in live:
                        self._credit[r.version] = self._credit.get(r.version, 0) + r.weight
                    chosen = max(live, key=lambda r: self._credit[r.version])
                    self._credit[chosen.version] -= total
            if chosen is not None:
                counters = self._counters.setdefault(chosen.version, _Counters())
                counters.requests += 1
                counters.in_flight += 1
            return chosen

    def end(self, version: str, failed: bool) -> None:
        with self._lock:
            counters = self._counters[version]
            counters.in_flight -= 1
            counters.errors += int(failed)

    def broker(self, version: str) -> InvocationBroker | None:
        server = self._runtimes.get(version)
        return server.broker if server else None

    def status(self) -> dict[str, Any]:
        routes = self.reload()
        with self._lock:
            counters = {v: vars(c).copy() for v, c in self._counters.items()}
            pollers = {v: s.broker.runtime_polled.is_set() for v, s in self._runtimes.items()}
        return {
            "pid": os.getpid(),
            "generation": routes.generation,
            "flavour": routes.flavour,
            "revisions": counters,
            "pollers": pollers,
            "error": self._error,
        }

    def close(self) -> None:
        for server in self._runtimes.values():
            server.stop()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        router = self.server.router
        if self.path.startswith("/_modelstack/status"):
            self._send(HTTPStatus.OK, json.dumps(router.status()).encode(), {})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self._send(HTTPStatus.BAD_REQUEST, b'{"error": "invalid Content-Length"}', {})
            self.close_connection = True
            return
        if length > MAX_BODY:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b'{"error": "body too large"}', {})
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if router.reload().flavour == "lambda":
            self._invoke(method, body)
        else:
            self._proxy(method, body)

    def _proxy(self, method: str, body: bytes) -> None:
        router = self.server.router
        revision = router.begin(self.headers.get("X-Modelstack-Revision"))
        if revision is None or not revision.backends:
            if revision is not None:
                router.end(revision.version, failed=True)
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b'{"error": "no revision serves"}', {})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        failed = True
        try:
            status, reply_headers, reply = _forward(revision, method, self.path, headers, body)
            failed = status >= 500
            reply_headers["X-Modelstack-Revision"] = revision.version
            self._send(status, reply, reply_headers)
        except (OSError, http.client.HTTPException) as exc:
            message = json.dumps({"error": f"revision {revision.version} unreachable: {exc}"})
            self._send(HTTPStatus.BAD_GATEWAY, message.encode(), {})
        finally:
            router.end(revision.version, failed)

    def _invoke(self, method: str, body: bytes) -> None:
        url = urlsplit(self.path)
        match = _INVOKE.match(url.path)
        router = self.server.router
        if method != "POST" or match is None:
            self._aws_error(HTTPStatus.NOT_FOUND, "UnknownOperationException", self.path)
            return
        if match.group(1) != router.reload().function_name:
            self._aws_error(
                HTTPStatus.NOT_FOUND,
                "ResourceNotFoundException",
                f"Function not found: {match.group(1)}",
            )
            return
        qualifier = parse_qs(url.query).get("Qualifier", [None])[0]
        revision = router.begin(qualifier)
        broker = router.broker(revision.version) if revision else None
        if revision is None or broker is None:
            if revision is not None:
                router.end(revision.version, failed=True)
            self._aws_error(
                HTTPStatus.NOT_FOUND,
                "ResourceNotFoundException",
                f"no version {qualifier or 'live'} of this function",
            )
            return
        failed = True
        try:
            reply = broker.invoke(body)
            failed = _is_server_error(reply)
            self._send(HTTPStatus.OK, reply, {"X-Amz-Executed-Version": revision.version})
        except (InvocationFailed, TimeoutError) as exc:
            error = json.dumps({"errorMessage": str(exc), "errorType": "Unhandled"}).encode()
            self._send(
                HTTPStatus.OK,
                error,
                {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": revision.version},
            )
        finally:
            router.end(revision.version, failed)

    def _aws_error(self, status: HTTPStatus, kind: str, message: str) -> None:
        body = json.dumps({"Type": "User", "message": message}).encode()
        self._send(status, body, {"x-amzn-ErrorType": kind})

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        """The whole reply in one write: status line, headers and body."""
        phrase = _PHRASES.get(status, "")
        head = [f"HTTP/1.1 {status} {phrase}"]
        head += [f"{key}: {value}" for key, value in headers.items()]
        if not any(key.lower() == "content-type" for key in headers):
            head.append("Content-Type: application/json")
        head.append(f"Content-Length: {len(body)}")
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def _is_server_error(reply: bytes) -> bool:
    """Whether a function's answer is a server fault (its own 5xx error payload, or garbage)."""
    try:
        document = json.loads(reply)
        return isinstance(document, dict) and int(document.get("status") or 200) >= 500
    except (ValueError, TypeError):
        return True


_local = threading.local()
_turns = itertools.count()


def _forward(
    revision: Revision, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Send the request to one of the revision's containers.

    It moves on to the next container only when a request cannot have been processed: the
    connection was refused, or a kept-alive connection turned out to be closed before any
    answer. A timeout is never retried, so no inference runs twice.
    """
    pool: dict[str, http.client.HTTPConnection] = getattr(_local, "pool", None) or {}
    _local.pool = pool
    start = next(_turns)
    last: OSError = OSError("no backend")
    for attempt in range(2 * len(revision.backends)):
        backend = revision.backends[(start + attempt) % len(revision.backends)]
        connection = pool.get(backend)
        reused = connection is not None
        if connection is None:
            host, _, port = backend.rpartition(":")
            connection = pool[backend] = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (
            ConnectionRefusedError,
            http.client.RemoteDisconnected,
            BrokenPipeError,
            ConnectionResetError,
        ) as exc:
            connection.close()
            pool.pop(backend, None)
            if isinstance(exc, ConnectionRefusedError) or reused:
                last = exc
                continue
            raise
        except (OSError, http.client.HTTPException):
            connection.close()
            pool.pop(backend, None)
            raise
        reply = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
        return response.status, reply, data
    raise last


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    router: Router

    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="modelstack local target router")
    parser.add_argument("--routes", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the router's pid here")
    args = parser.parse_args(argv)
    server = _Server(args.port)  # bind before detaching: a taken port fails loudly
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
