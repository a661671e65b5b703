"""The local router's routing table: which revision takes a request, per-revision counters
for the health checks, and (Lambda flavour) each revision's Runtime API.

The engine replaces the table file atomically (`routes.write_routes`); the router re-reads it
when it changed and reports the generation it has applied in its status.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelstack.providers.local.invocations import InvocationBroker
from modelstack.providers.local.routes import Revision, Routes, read_routes
from modelstack.providers.local.runtime_api import RuntimeApiServer

__all__ = ["Router"]


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

    @property
    def flavour(self) -> str:
        """The flavour of the current table."""
        return self.reload().flavour

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
                if len(live) == 1:  # its credit would rise by its weight and fall by the total
                    chosen = live[0]
                elif live:
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
