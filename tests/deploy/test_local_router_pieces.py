"""The router under ordinary traffic that is easy to get wrong: heads and bodies that arrive
in pieces, many clients at once, deadlines on idle clients and on containers, and clients
that leave before their answer."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerkit import (
    RecordingBackend,
    body_of,
    counters,
    http_routes,
    port_of,
    read_all,
    running_router,
    statuses,
)

from modelstack.providers.local.router import RouterServer, RouterSettings

SETTINGS = RouterSettings(read_timeout_s=2.0, idle_timeout_s=0.3, backend_timeout_s=0.3)


@pytest.fixture
def backend() -> Iterator[RecordingBackend]:
    server = RecordingBackend()
    yield server
    server.release.set()
    server.close()


@pytest.fixture
def router(tmp_path: Path, backend: RecordingBackend) -> Iterator[RouterServer]:
    with running_router(tmp_path, http_routes(backend.address), SETTINGS) as server:
        yield server


def _send_in_parts(port: int, *parts: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(0.05)  # separate segments, so the router sees each on its own
        return read_all(sock)


def test_a_body_arriving_after_its_head_is_forwarded_byte_for_byte(
    router: RouterServer, backend: RecordingBackend
) -> None:
    head = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
    # The body begins with blank lines: they are body, not the gap before a request.
    raw = _send_in_parts(port_of(router), head, b"\r\n\r\nab", b"cd")
    assert statuses(raw) == [200]
    assert [s.body for s in backend.seen] == [b"\r\n\r\nabcd"]


def test_a_head_in_pieces_is_one_request(router: RouterServer, backend: RecordingBackend) -> None:
    raw = _send_in_parts(
        port_of(router), b"POST /y HTTP/1.1\r\nHo", b"st: x\r\nContent-Len", b"gth: 2\r\n\r\nok"
    )
    assert statuses(raw) == [200] and raw.endswith(b"\r\n\r\nok")  # then closed when idle
    assert [(s.path, s.body) for s in backend.seen] == [("/y", b"ok")]


def test_many_clients_at_once_each_get_their_own_answer(
    tmp_path: Path, backend: RecordingBackend
) -> None:
    # The container's deadline is generous here: a busy machine may take a while to answer.
    settings = RouterSettings(read_timeout_s=10.0, idle_timeout_s=10.0, backend_timeout_s=10.0)
    with running_router(tmp_path, http_routes(backend.address), settings) as router:
        _many_clients(router)


def _many_clients(router: RouterServer) -> None:
    answers: dict[int, list[bytes]] = {}

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port_of(router), timeout=10)
        got = []
        for turn in range(10):
            connection.request("POST", "/echo", body=f"{index}-{turn}".encode())
            got.append(connection.getresponse().read())
        connection.close()
        answers[index] = got

    threads = [threading.Thread(target=client, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == {i: [f"{i}-{t}".encode() for t in range(10)] for i in range(12)}
    assert counters(router) == {"requests": 120, "errors": 0, "in_flight": 0}


def test_an_idle_client_is_closed_after_the_idle_timeout(router: RouterServer) -> None:
    with socket.create_connection(("127.0.0.1", port_of(router)), timeout=10) as sock:
        assert read_all(sock) == b""  # closed by the router, well before the 10 s


def test_a_container_that_does_not_answer_in_time_is_its_revisions_error(
    router: RouterServer, backend: RecordingBackend
) -> None:
    request = b"GET /stall HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = _send_in_parts(port_of(router), request)
    assert statuses(raw) == [502]
    assert body_of(raw)["error"].startswith("revision 1 unreachable: ")
    assert counters(router) == {"requests": 1, "errors": 1, "in_flight": 0}


def test_a_client_that_leaves_before_its_answer_costs_the_router_nothing(
    router: RouterServer, backend: RecordingBackend
) -> None:
    with socket.create_connection(("127.0.0.1", port_of(router)), timeout=10) as sock:
        sock.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
        while not backend.seen:
            time.sleep(0.01)
    backend.release.set()
    for _ in range(500):  # the answer comes and goes nowhere; at most 5 s
        if counters(router)["in_flight"] == 0:
            break
        time.sleep(0.01)
    assert counters(router)["in_flight"] == 0
    connection = http.client.HTTPConnection("127.0.0.1", port_of(router), timeout=10)
    connection.request("POST", "/after", body=b"still here")
    assert connection.getresponse().read() == b"still here"
    connection.close()


def test_connections_past_the_limit_wait_until_one_closes(
    tmp_path: Path, backend: RecordingBackend
) -> None:
    settings = RouterSettings(max_connections=2, idle_timeout_s=30)
    with running_router(tmp_path, http_routes(backend.address), settings) as server:
        port = port_of(server)
        held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        for sock in held:  # both served
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        waiting = socket.create_connection(("127.0.0.1", port), timeout=0.5)
        waiting.sendall(b"GET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        with pytest.raises(TimeoutError):  # in the backlog, not accepted
            waiting.recv(65536)
        held[0].close()
        waiting.settimeout(10)
        assert statuses(read_all(waiting)) == [200]
        waiting.close()
        held[1].close()
    assert [s.path for s in backend.seen] == ["/a", "/a", "/b"]
