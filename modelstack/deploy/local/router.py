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
        self._mtime = -1.0
        self._checked = 0.0
        self._counters: dict[str, _Counters] = {}
        self._credit: dict[str, int] = {}
        self._runtimes: dict[str, RuntimeApiServer] = {}
        self.reload()

    def reload(self) -> Routes:
        """The current table, re-read when the file changed (checked at most every 20 ms)."""
        now = time.monotonic()
        if now - self._checked < 0.02:
            return self._routes
        self._checked = now
        try:
            mtime = self.routes_path.stat().st_mtime
        except FileNotFoundError:
            return self._routes
        if mtime != self._mtime:
            routes = read_routes(self.routes_path)
            if routes is not None:
                with self._lock:
                    self._apply(routes)
                    self._routes, self._mtime = routes, mtime
        return self._routes

    def _apply(self, routes: Routes) -> None:
        if routes.flavour != "lambda":
            return
        wanted = {r.version: r for r in routes.revisions if r.runtime_api_port}
        for version in [v for v in self._runtimes if v not in wanted]:
            self._runtimes.pop(version).stop()
        for version, revision in wanted.items():
            if version not in self._runtimes:
                broker = InvocationBroker(routes.function_name)
                assert revision.runtime_api_port is not None
                server = RuntimeApiServer(broker, revision.runtime_api_port).start()
                self._runtimes[version] = server

    def pick(self, qualifier: str | None = None) -> Revision | None:
        """A pinned revision, or the next by smooth weighted round robin."""
        routes = self.reload()
        if qualifier not in (None, "", "live", "$LATEST"):
            return routes.revision(str(qualifier))
        live = [r for r in routes.revisions if r.weight > 0]
        if not live:
            return None
        with self._lock:
            total = sum(r.weight for r in live)
            for r in live:
                self._credit[r.version] = self._credit.get(r.version, 0) + r.weight
            chosen = max(live, key=lambda r: self._credit[r.version])
            self._credit[chosen.version] -= total
        return chosen

    def begin(self, version: str) -> None:
        with self._lock:
            counters = self._counters.setdefault(version, _Counters())
            counters.requests += 1
            counters.in_flight += 1

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
            "generation": routes.generation,
            "flavour": routes.flavour,
            "revisions": counters,
            "pollers": pollers,
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
        length = int(self.headers.get("Content-Length") or 0)
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
        revision = router.pick(self.headers.get("X-Modelstack-Revision"))
        if revision is None or not revision.backends:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, b'{"error": "no revision serves"}', {})
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        router.begin(revision.version)
        failed = True
        try:
            status, reply_headers, reply = _forward(revision, method, self.path, headers, body)
            failed = status >= 500
            reply_headers["X-Modelstack-Revision"] = revision.version
            self._send(HTTPStatus(status), reply, reply_headers)
        except OSError as exc:
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
        revision = router.pick(qualifier)
        broker = router.broker(revision.version) if revision else None
        if revision is None or broker is None:
            self._aws_error(
                HTTPStatus.NOT_FOUND,
                "ResourceNotFoundException",
                f"no version {qualifier or 'live'} of this function",
            )
            return
        router.begin(revision.version)
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

    def _send(self, status: HTTPStatus, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        sent = {k.lower() for k in headers}
        for key, value in headers.items():
            self.send_header(key, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _is_server_error(reply: bytes) -> bool:
    try:
        document = json.loads(reply)
    except ValueError:
        return True
    return isinstance(document, dict) and int(document.get("status", 200) or 200) >= 500


_local = threading.local()
_turns = itertools.count()


def _forward(
    revision: Revision, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """Send the request to the revision's backends in turn; retry a refused or stale one."""
    pool: dict[str, http.client.HTTPConnection] = getattr(_local, "pool", None) or {}
    _local.pool = pool
    last: OSError | None = None
    for attempt in range(2 * len(revision.backends)):
        backend = revision.backends[
            (attempt + hash(threading.get_ident())) % len(revision.backends)
        ]
        connection = pool.get(backend)
        if connection is None:
            host, _, port = backend.rpartition(":")
            connection = pool[backend] = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            pool.pop(backend, None)
            last = exc if isinstance(exc, OSError) else OSError(str(exc))
            continue
        reply = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS}
        return response.status, reply, data
    raise last or OSError("no backend")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, router: Router) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.router = router


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="modelstack local target router")
    parser.add_argument("--routes", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid-file", type=Path, help="detach, and write the router's pid here")
    args = parser.parse_args(argv)
    router = Router(args.routes)
    server = _Server(args.port, router)  # bind before detaching: a taken port fails loudly
    if args.pid_file is not None:
        _detach(args.pid_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    thread.start()
    print(f"router {os.getpid()} on 127.0.0.1:{args.port}", flush=True)
    stop.wait()
    server.shutdown()
    thread.join()
    router.close()
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
