"""The router's event loop: one thread, one epoll set, every socket non-blocking.

Each registered socket has a handler that is told when its socket is ready (`on_event`) and
when its `deadline` (a `time.monotonic()` value) has passed (`on_deadline`, checked every
`TICK_S`). A handler that raises is closed and reported on stderr; the loop goes on.

One thread instead of one per connection: a request through the router costs a few system
calls and no thread hand-offs, which is what keeps its added latency and CPU small.
"""

from __future__ import annotations

import contextlib
import select
import socket
import sys
import time
import traceback
from collections.abc import Callable
from typing import Final, Protocol

__all__ = ["TICK_S", "EventLoop", "Handler"]

TICK_S: Final = 0.05
"""How often deadlines are checked: a deadline is met to within this."""


class Handler(Protocol):
    sock: socket.socket
    deadline: float

    def on_event(self, events: int) -> None: ...

    def on_deadline(self) -> None: ...

    def close(self) -> None: ...


class EventLoop:
    """Handlers by file descriptor, polled until `stop` is called from any thread."""

    def __init__(self) -> None:
        self._poll = select.epoll()
        self._handlers: dict[int, Handler] = {}
        self._masks: dict[int, int] = {}
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._poll.register(self._wake_in.fileno(), select.EPOLLIN)
        self._stopping = False
        self.turn = 0
        """How many polls have returned."""
        self.pending: dict[int, int] = {}
        """The events the last poll returned, by file descriptor (some handled already)."""

    def register(self, handler: Handler, mask: int) -> None:
        fd = handler.sock.fileno()
        self._poll.register(fd, mask)
        self._handlers[fd] = handler
        self._masks[fd] = mask

    def modify(self, handler: Handler, mask: int) -> None:
        fd = handler.sock.fileno()
        if self._masks.get(fd, mask) != mask:
            self._poll.modify(fd, mask)
            self._masks[fd] = mask

    def unregister(self, handler: Handler) -> None:
        """Forget `handler` (before its socket is closed); a no-op when it is not registered."""
        fd = handler.sock.fileno()
        if fd >= 0 and self._handlers.get(fd) is handler:
            self._poll.unregister(fd)
            del self._handlers[fd]
            del self._masks[fd]

    def run(self, poll_interval: float) -> None:
        """Serve events until `stop`; with nothing but the listener, wake every `poll_interval`."""
        next_tick = time.monotonic() + TICK_S
        while not self._stopping:
            timeout = TICK_S if len(self._handlers) > 1 else poll_interval
            ready = self._poll.poll(timeout)
            now = time.monotonic()
            self.turn += 1
            self.pending = dict(ready)
            handlers = self._handlers
            # Handlers looked up before any runs: a socket closed by one handler may have its
            # descriptor reused by a new one within the batch, and its stale event is not the
            # new handler's.
            for handler, events, fd in [(handlers.get(fd), e, fd) for fd, e in ready]:
                if handler is not None and handlers.get(fd) is handler:
                    self._dispatch(handler, events)
                elif fd == self._wake_in.fileno():
                    self._drain_wakeups()
            if now >= next_tick:
                next_tick = now + TICK_S
                for handler in [h for h in self._handlers.values() if h.deadline <= now]:
                    if self._handlers.get(handler.sock.fileno()) is handler:
                        self._guarded(handler.on_deadline, handler)

    def stop(self) -> None:
        """Make `run` return (from any thread)."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._wake_out.send(b"x")

    def close(self) -> None:
        """Close every handler, then the loop itself (after `run` has returned)."""
        for handler in list(self._handlers.values()):
            self._guarded(handler.close, handler)
        self._poll.close()
        self._wake_in.close()
        self._wake_out.close()

    def _dispatch(self, handler: Handler, events: int) -> None:
        try:
            handler.on_event(events)
        except Exception:
            self._report(handler)

    def _guarded(self, call: Callable[[], None], handler: Handler) -> None:
        try:
            call()
        except Exception:
            self._report(handler)

    def _report(self, handler: Handler) -> None:
        print(f"router: {type(handler).__name__} failed", file=sys.stderr)
        traceback.print_exc()
        try:
            handler.close()
        except Exception:
            traceback.print_exc()

    def _drain_wakeups(self) -> None:
        try:
            while self._wake_in.recv(4096):
                pass
        except BlockingIOError:
            pass
