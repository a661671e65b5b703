"""The local router's HTTP framing and forwarding, over real sockets on 127.0.0.1 with raw
request bytes: no smuggled requests, no body left unread, deadlines, 413s that are nobody's
error, and no request sent twice."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from routerkit import (
    RecordingBackend,
    counters,
    exchange,
    http_routes,
    port_of,
    read_all,
    running_router,
    statuses,
)

from modelstack.errors import UsageError
from modelstack.providers.local.router import RouterServer, RouterSettings

ROOT = Path(__file__).resolve().parents[2]
SMUGGLED = b"GET /_modelstack/status HTTP/1.1\r\nHost: x\r\n\r\n"
LAST = b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture
def backend() -> Iterator[RecordingBackend]:
    server = RecordingBackend(max_body=1024 * 1024)
    yield server
    server.close()


@pytest.fixture
def router(tmp_path: Path, backend: RecordingBackend) -> Iterator[RouterServer]:
    settings = RouterSettings(max_body_bytes=4 * 1024 * 1024, read_timeout_s=0.5)
    with running_router(tmp_path, http_routes(backend.address), settings) as server:
        yield server


def test_a_chunked_body_is_decoded_not_taken_for_the_next_request(
    router: RouterServer, backend: RecordingBackend
) -> None:
    chunked = hex(len(SMUGGLED))[2:].encode() + b"\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"
    request = b"POST /v2/models/m/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    raw = exchange(port_of(router), request + b"\r\n" + chunked + LAST)
    assert statuses(raw) == [200, 200]
    assert b'"generation"' not in raw  # the status route never answered
    assert [(s.method, s.path, s.body) for s in backend.seen] == [
        ("POST", "/v2/models/m/infer", SMUGGLED),
        ("GET", "/last", b""),
    ]


def test_the_body_of_a_request_to_the_status_route_is_consumed(
    router: RouterServer, backend: RecordingBackend
) -> None:
    inner = b"POST /inner HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    head = f"POST /_modelstack/status HTTP/1.1\r\nHost: x\r\nContent-Length: {len(inner)}\r\n\r\n"
    raw = exchange(port_of(router), head.encode() + inner + LAST)
    assert statuses(raw) == [405, 200]
    assert [s.path for s in backend.seen] == ["/last"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", 400),
        (b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 5\r\n", 400),
        (b"Content-Length: 5\r\nContent-Length: 38\r\n", 400),
        (b"Content-Length: 5, 5\r\n", 400),
        (b"Content-Length: +5\r\n", 400),
        (b"Content-Length: 0x5\r\n", 400),
        (b"Content-Length: 5_0\r\n", 400),
        (b"Content-Length: -1\r\n", 400),
        (b"Transfer-Encoding: gzip, chunked\r\n", 501),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501),
        (b"Content-Length : 5\r\n", 400),
        (b"X-A: 1\r\n folded\r\nContent-Length: 5\r\n", 400),
    ],
)
def test_ambiguous_framing_is_refused_and_the_connection_closed(
    router: RouterServer, backend: RecordingBackend, headers: bytes, status: int
) -> None:
    raw = exchange(
        port_of(router), b"POST /x HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\nhello" + LAST
    )
    assert statuses(raw) == [status]  # nothing after it was read as a request
    assert b"Connection: close" in raw
    assert backend.seen == []
    assert counters(router)["requests"] == 0


def test_a_half_sent_request_is_closed_at_its_deadline(router: RouterServer) -> None:
    with socket.create_connection(("127.0.0.1", port_of(router)), timeout=20) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part")
        raw = read_all(sock)  # the router closes it: the recv ends long before 20 s
    assert statuses(raw) == [408]


def test_a_half_sent_head_is_closed_at_its_deadline(router: RouterServer) -> None:
    with socket.create_connection(("127.0.0.1", port_of(router)), timeout=20) as sock:
        sock.sendall(b"POST /x HTTP/1.1\r\nHost: x\r\n")
        assert statuses(read_all(sock)) == [408]


def test_a_body_over_the_router_limit_is_413_and_nobodys_error(
    router: RouterServer, backend: RecordingBackend
) -> None:
    head = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n"
    raw = exchange(port_of(router), head)
    assert statuses(raw) == [413]
    assert b"4194304" in raw  # the limit, named
    assert backend.seen == [] and counters(router)["requests"] == 0


def test_a_chunked_body_over_the_limit_is_413(router: RouterServer) -> None:
    chunk = b"400000\r\n" + b"a" * 0x400000 + b"\r\n"
    head = b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert statuses(exchange(port_of(router), head + chunk * 2)) == [413]


def test_a_container_refusing_a_large_body_is_relayed_as_its_413(
    router: RouterServer, backend: RecordingBackend
) -> None:
    body = b"x" * (3 * 1024 * 1024)  # under the router's limit, over the container's
    head = f"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    raw = exchange(port_of(router), head + body + LAST)
    assert statuses(raw)[0] == 413
    assert counters(router)["errors"] == 0


def test_expect_100_continue_gets_an_interim_answer(router: RouterServer) -> None:
    with socket.create_connection(("127.0.0.1", port_of(router)), timeout=10) as sock:
        head = b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
        sock.sendall(head + b"Connection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"ok")
        raw = read_all(sock)
    assert statuses(raw) == [200] and raw.endswith(b"\r\n\r\nok")


def test_a_request_is_never_sent_twice_after_a_reset(
    tmp_path: Path, backend: RecordingBackend
) -> None:
    # Two entries for one container: the old code retried a reused connection on the next.
    routes = http_routes(backend.address, backend.address)
    with running_router(tmp_path, routes) as server:
        first = b"GET /warm HTTP/1.1\r\nHost: x\r\n\r\n"
        drop = b"POST /drop HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        raw = exchange(port_of(server), first + drop + LAST)
        assert statuses(raw) == [200, 502, 200]
        assert [s.path for s in backend.seen] == ["/warm", "/drop", "/last"]
        assert counters(server)["errors"] == 1


def test_a_container_closing_an_idle_connection_costs_no_request(
    router: RouterServer, backend: RecordingBackend
) -> None:
    client = http.client.HTTPConnection("127.0.0.1", port_of(router), timeout=10)
    for _ in range(3):
        client.request("GET", "/close-after")  # answered, then closed without saying so
        response = client.getresponse()
        assert response.status == 200
        response.read()
        assert backend.closed.acquire(timeout=10)  # the idle connection is closed now
    client.close()
    assert len(backend.seen) == 3 and counters(router)["errors"] == 0


def test_keep_alive_requests_and_headers_pass_through(
    router: RouterServer, backend: RecordingBackend
) -> None:
    one = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    raw = exchange(port_of(router), one * 3 + LAST)
    assert statuses(raw) == [200] * 4
    assert raw.count(b"X-Modelstack-Revision: 1") == 4
    assert counters(router) == {"requests": 4, "errors": 0, "in_flight": 0}


def test_settings_come_from_the_environment() -> None:
    settings = RouterSettings.from_env({"MODELSTACK_ROUTER_MAX_BODY_BYTES": "1024"})
    assert settings.max_body_bytes == 1024
    with pytest.raises(UsageError, match="MODELSTACK_ROUTER_READ_TIMEOUT_S"):
        RouterSettings.from_env({"MODELSTACK_ROUTER_READ_TIMEOUT_S": "soon"})


def test_the_router_process_imports_nothing_heavy() -> None:
    probe = (
        "import sys, json, modelstack.providers.local.router\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert "modelstack" in loaded  # the probe sees imports
    assert not loaded & {"numpy", "onnx", "onnxruntime", "docker", "jsonschema"}
    assert "modelstack.image" not in result.stdout


def test_the_connection_limit_comes_from_the_environment() -> None:
    settings = RouterSettings.from_env({"MODELSTACK_ROUTER_MAX_CONNECTIONS": "8"})
    assert settings.max_connections == 8
    with pytest.raises(UsageError, match="MODELSTACK_ROUTER_MAX_CONNECTIONS"):
        RouterSettings.from_env({"MODELSTACK_ROUTER_MAX_CONNECTIONS": "1.5"})
