"""The router's event loop and its pool of container connections, driven directly: what an
event in a batch reaches, and when a pooled connection is checked before it is reused."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from modelstack.providers.local.loop import EventLoop
from modelstack.providers.local.proxy import Backend, BackendPool


class Recorder:
    """A handler that records its events and, the first time, runs `first`."""

    def __init__(self, sock: socket.socket, first: Callable[[], None] | None = None) -> None:
        self.sock, self.deadline, self.first = sock, float("inf"), first
        self.events: list[int] = []

    def on_event(self, events: int) -> None:
        self.events.append(events)
        first, self.first = self.first, None
        if first is not None:
            first()

    def on_deadline(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()


def test_an_event_of_a_socket_closed_in_the_batch_does_not_reach_its_fds_new_handler() -> None:
    loop = EventLoop()
    a, a_peer = socket.socketpair()
    c, c_peer = socket.socketpair()
    state: dict[str, Recorder] = {}

    def replace_the_other(other: str) -> None:
        freed = state[other].sock.fileno()
        loop.unregister(state[other])
        state[other].sock.close()
        d, d_peer = socket.socketpair()  # the lowest free descriptor: the one just freed
        assert d.fileno() == freed or d_peer.fileno() == freed
        new = d if d.fileno() == freed else d_peer
        state["new"] = Recorder(new)
        state["keep"] = Recorder(d_peer if new is d else d)
        loop.register(state["new"], select.EPOLLIN)
        threading.Timer(0.2, loop.stop).start()

    state["a"] = Recorder(a, lambda: replace_the_other("c"))
    state["c"] = Recorder(c, lambda: replace_the_other("a"))
    loop.register(state["a"], select.EPOLLIN)
    loop.register(state["c"], select.EPOLLIN)
    a_peer.send(b"x")
    c_peer.send(b"x")  # both ready in one poll: whichever runs first closes the other
    loop.run(poll_interval=0.05)
    assert state["new"].events == []  # nothing was sent to it: a stale event would show here
    loop.close()
    for sock in (a_peer, c_peer, state["keep"].sock):
        sock.close()


@pytest.fixture
def container() -> Iterator[socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener
    listener.close()


@dataclass
class Pooled:
    """A connection to `container` that has just been put in the pool (not yet polled)."""

    loop: EventLoop
    pool: BackendPool
    backend: Backend
    served: socket.socket  # the container's side


@pytest.fixture
def pooled(container: socket.socket) -> Iterator[Pooled]:
    loop = EventLoop()
    pool = BackendPool(loop, timeout_s=5, max_body=1024)
    backend = Backend(pool, f"127.0.0.1:{container.getsockname()[1]}")
    served, _ = container.accept()
    select.select([], [backend.sock], [], 5)
    backend.connecting = False
    pool.put(backend)
    yield Pooled(loop, pool, backend, served)
    served.close()
    pool.close()
    loop.close()


def test_a_connection_pooled_in_this_batch_is_checked_before_reuse(pooled: Pooled) -> None:
    pooled.served.close()  # the container closes it right after its answer, before a poll
    select.select([pooled.backend.sock], [], [], 5)
    assert pooled.pool.take(pooled.backend.address) is None  # seen closed: a new one is opened


def test_a_connection_with_an_event_still_to_handle_is_checked_before_reuse(
    pooled: Pooled,
) -> None:
    pooled.served.sendall(b"HTTP/1.1 200 OK\r\n")  # stray bytes, not yet read by the loop
    select.select([pooled.backend.sock], [], [], 5)
    pooled.loop.turn += 1  # a later poll returned, with the event for this connection
    pooled.loop.pending = {pooled.backend.fd: select.EPOLLIN}
    assert pooled.pool.take(pooled.backend.address) is None


def test_a_connection_the_loop_has_seen_quiet_since_it_was_pooled_is_reused(
    pooled: Pooled,
) -> None:
    pooled.loop.turn += 1
    pooled.loop.pending = {}
    assert pooled.pool.take(pooled.backend.address) is pooled.backend
    pooled.backend.close()
