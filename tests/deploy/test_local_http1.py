"""Properties of the router's HTTP/1.1 framing, over a real socket pair: any byte string is
either framed exactly or refused with an HttpError, never anything else."""

from __future__ import annotations

import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.deploy.local.http1 import HttpError, Message, Stream, read_request

MAX_BODY = 4096


def parse(data: bytes) -> Message | None:
    left, right = socket.socketpair()
    with left, right:
        left.sendall(data)
        left.shutdown(socket.SHUT_WR)
        return read_request(
            Stream(right),
            idle_deadline=time.monotonic() + 5,
            read_s=5,
            max_body=MAX_BODY,
            on_continue=lambda: None,
        )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_framed_or_refused(data: bytes) -> None:
    try:
        request = parse(data)
    except HttpError as exc:
        assert 400 <= exc.status < 600 and exc.message
        return
    assert request is None or request.target.startswith("/")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=MAX_BODY), st.lists(st.integers(1, 700), max_size=8))
def test_a_chunked_body_decodes_to_its_bytes_however_it_is_split(
    body: bytes, cuts: list[int]
) -> None:
    chunks, rest = [], body
    for cut in cuts:
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    head = b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    request = parse(head + encoded)
    assert request is not None and request.body == body


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789+-_ ,xX.e", min_size=1, max_size=12))
def test_content_length_is_plain_digits_or_refused(value: str) -> None:
    data = f"POST /p HTTP/1.1\r\nContent-Length: {value}\r\n\r\n".encode() + b"a" * 20
    plain = value.strip(" ").isdigit() and int(value) <= 20
    if plain:
        request = parse(data)
        assert request is not None and len(request.body) == int(value)
    else:
        with pytest.raises(HttpError):
            parse(data)
