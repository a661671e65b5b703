"""Properties of the router's HTTP/1.1 framing, over a real socket pair: any byte string is
either framed exactly or refused with an HttpError, never anything else."""

from __future__ import annotations

import re
import socket
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.providers.local.http1 import (
    FRAMING_HEADERS,
    MAX_HEAD_BYTES,
    MAX_HEADER_LINES,
    HttpError,
    Message,
    RequestFramer,
    ResponseFramer,
    Stream,
    has_bare_cr_lf_or_nul,
    read_request,
    render,
)
from modelstack.providers.local.proxy import forwarded

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


_HEAD_BYTES = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"\x00", b"a", b": ", b"\r\r\n"]))


@settings(max_examples=500, deadline=None)
@given(_HEAD_BYTES.map(b"".join))
def test_the_bare_cr_lf_check_agrees_with_its_definition(data: bytes) -> None:
    bare = re.compile(rb"\r(?!\n)|(?<!\r)\n|\x00")  # the definition, as a regex
    assert has_bare_cr_lf_or_nul(data) == (bare.search(data) is not None)


_METHODS = st.sampled_from([b"GET", b"POST", b"G E", b"P(", b"", b"get"])
_TARGETS = st.sampled_from([b"/", b"/v2/x?y=1", b"x", b"/\x7f", b"/\xe9", b"", b"/a b"])
_VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 "])
_SEPARATORS = st.sampled_from([b" ", b" ", b" ", b"  ", b"\t", b""])
_REQUEST_LINES = st.tuples(_METHODS, _SEPARATORS, _TARGETS, _SEPARATORS, _VERSIONS).map(b"".join)


def split_request_line(start: bytes) -> tuple[str, str, str] | str:
    """The request line checked part by part: (method, target, version), or the error."""
    parts = start.split(b" ")
    if len(parts) != 3 or not re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", parts[0]):
        return "malformed request line"
    if parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        return "malformed request line"
    if not re.fullmatch(rb"/[\x21-\x7e]*", parts[1]):
        return "the request target must be a path (/...)"
    method, target, version = (p.decode("ascii") for p in parts)
    return method, target, version


@settings(max_examples=500, deadline=None)
@given(_REQUEST_LINES)
def test_the_one_regex_request_line_agrees_with_the_part_by_part_check(start: bytes) -> None:
    expected = split_request_line(start)
    try:
        request = parse(start + b"\r\nHost: x\r\n\r\n")
    except HttpError as exc:
        assert exc.message == expected
        return
    assert request is not None
    assert (request.method, request.target, request.version) == expected


def frame_in_pieces(data: bytes, cuts: list[int]) -> tuple[list[Message], bytes]:
    """Feed `data` to a RequestFramer in pieces; the requests it took and what is left."""
    framer, buffer, taken, position = RequestFramer(MAX_BODY), bytearray(), [], 0
    for cut in [*cuts, len(data)]:
        buffer += data[position : position + cut]
        position += cut
        while (request := framer.take(buffer, lambda: None)) is not None:
            taken.append(request)
    return taken, bytes(buffer)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    st.lists(st.integers(1, 200), max_size=12),
)
def test_the_framer_takes_the_same_requests_however_the_bytes_arrive(
    bodies: list[bytes], cuts: list[int]
) -> None:
    requests = b"".join(
        b"POST /%d HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (i, len(b), b)
        if i % 2
        else b"POST /%d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
        % (i, len(b) or 1, b or b"z")
        for i, b in enumerate(bodies)
    )
    taken, left = frame_in_pieces(requests + b"GET /half HTTP/1.1\r\n", cuts)
    assert [r.target for r in taken] == [f"/{i}" for i in range(len(bodies))]
    assert [r.body for r in taken] == [b if i % 2 else b or b"z" for i, b in enumerate(bodies)]
    assert left == b"GET /half HTTP/1.1\r\n"  # the next request's start stays in the buffer


_LINES = st.sampled_from(
    [b"Host: x", b"X-A: 1", b"x-a:", b"X-B: caf\xe9 \t", b"A b: 1", b"X-A : 1", b" folded",
     b"no colon", b"X-C: a\x00b", b"X-D: a\rb", b"X-E: a\nb", b"X-F:\tv\t", b":empty name"]
)  # fmt: skip
_BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n|\x00")  # the definition of a bare CR or LF, or a NUL


def head_is_valid(start: bytes, lines: list[bytes]) -> bool:
    """The rules of a request head, checked one by one."""
    head = b"\r\n".join([start, *lines])
    return (
        _BARE.search(head) is None
        and len(lines) <= MAX_HEADER_LINES
        and all(re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*", x) for x in lines)
        and isinstance(split_request_line(start), tuple)
    )


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from([b"GET / HTTP/1.1", b"POST /x?y HTTP/1.0"]) | _REQUEST_LINES,
    st.lists(_LINES, max_size=6),
)
def test_the_one_regex_head_agrees_with_the_rules_one_by_one(
    start: bytes, lines: list[bytes]
) -> None:
    framer, buffer = RequestFramer(MAX_BODY), bytearray(b"\r\n".join([start, *lines]) + b"\r\n\r\n")
    try:
        request = framer.take(buffer, lambda: None)
    except HttpError as exc:
        assert not head_is_valid(start, lines)
        assert exc.status in (400, 431) and exc.message
        return
    assert head_is_valid(start, lines)
    assert request is not None and len(request.headers) == len(lines)


@pytest.mark.parametrize(
    ("count", "status"), [(MAX_HEADER_LINES, None), (MAX_HEADER_LINES + 1, 431)]
)
def test_a_head_may_have_at_most_the_limit_of_header_lines(count: int, status: int | None) -> None:
    buffer = bytearray(b"GET / HTTP/1.1" + b"\r\nX-A: 1" * count + b"\r\n\r\n")
    if status is None:
        request = RequestFramer(MAX_BODY).take(buffer, lambda: None)
        assert request is not None and len(request.headers) == count
    else:
        with pytest.raises(HttpError) as refused:
            RequestFramer(MAX_BODY).take(buffer, lambda: None)
        assert refused.value.status == status


_NAMES = st.sampled_from(
    ["Content-Length", "content-length", "CONNECTION", "Connection", "Keep-Alive", "TE",
     "Trailer", "Upgrade", "Host", "Expect", "X-Modelstack-Revision", "X-Request-Id", "Date",
     "Content-Type", "Te-Not", "X-Content-Length", "Connection-X"]
)  # fmt: skip
_VALUES = st.text(alphabet=" \tab,=7\xe9", max_size=8) | st.sampled_from(
    ["close", "keep-alive, X-Request-Id", " date ,upgrade", "Content-Type"]
)


HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "trailer",
              "upgrade"}  # fmt: skip
"""RFC 9110 7.6.1; the router also frames each hop itself (content-length, host, expect) and
names the revision that answered."""
DROPPED = HOP_BY_HOP | {"content-length", "host", "expect", "x-modelstack-revision"}


def reference_fields(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = {}
    for name, value in fields:
        by_name.setdefault(name.lower(), []).append(value.strip(" \t"))
    return by_name


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=8), st.booleans())
def test_headers_are_picked_and_forwarded_by_name_whatever_their_case(
    fields: list[tuple[str, str]], head_only: bool
) -> None:
    fields = [(n, v) for n, v in fields if n.lower() not in ("content-length", "transfer-encoding")]
    lines = "".join(f"\r\n{n}: {v}" for n, v in fields).encode("latin-1")
    body = b"four"
    framer, buffer = ResponseFramer(MAX_BODY, head_only=head_only), bytearray()
    buffer += b"HTTP/1.1 201 Made%s\r\nContent-Length: 4\r\n\r\n%s" % (lines, body)
    response = framer.take(buffer)
    assert response is not None and bytes(buffer) == (body if head_only else b"")
    expected = reference_fields([*fields, ("Content-Length", "4")])
    for name in FRAMING_HEADERS:
        assert response.values(name) == expected.get(name, [])

    out = forwarded(response, "7", head_only=head_only, close=False)
    head, _, rest = out.partition(b"\r\n\r\n")
    status_line, *sent = head.decode("latin-1").split("\r\n")
    assert status_line == "HTTP/1.1 201 Made"
    named = {
        t.strip().lower() for n, v in fields if n.lower() == "connection" for t in v.split(",")
    }
    kept = [(n, v.strip(" \t")) for n, v in fields if n.lower() not in DROPPED | named]
    if head_only:
        kept.append(("Content-Length", "4"))
    sent_pairs = [(n, v.strip(" \t")) for n, _, v in (x.partition(":") for x in sent)]
    own = [("X-Modelstack-Revision", "7")] + ([] if head_only else [("Content-Length", "4")])
    assert sent_pairs == kept + own
    assert rest == (b"" if head_only else body)


@pytest.mark.parametrize(
    ("status", "head_only", "length", "has_body"),
    [(200, False, "4", True), (200, True, "9", False), (204, False, None, False),
     (304, False, "9", False)],
)  # fmt: skip
def test_a_bodyless_answer_keeps_its_own_length_or_none(
    status: int, head_only: bool, length: str | None, has_body: bool
) -> None:
    head = b"HTTP/1.1 %d X\r\nX-A: 1\r\nX-Modelstack-Revision: 9" % status
    if status != 204:
        head += b"\r\nContent-Length: %s" % (b"9" if head_only or status == 304 else b"4")
    response = ResponseFramer(MAX_BODY, head_only=head_only).take(bytearray(head + b"\r\n\r\nfour"))
    assert response is not None
    out_head, _, out_body = forwarded(response, "1", head_only=head_only, close=False).partition(
        b"\r\n\r\n"
    )
    lines = out_head.split(b"\r\n")[1:]
    lengths = [x.split(b": ")[1].decode() for x in lines if x.lower().startswith(b"content-length")]
    assert lengths == ([length] if length else [])
    assert [x for x in lines if x.lower().startswith(b"x-modelstack")] == [
        b"X-Modelstack-Revision: 1"
    ]
    assert out_body == (b"four" if has_body else b"")


def test_a_head_of_exactly_the_limit_is_taken_and_one_byte_more_is_431() -> None:
    start = b"GET / HTTP/1.1\r\nA: "
    for size, refused in ((MAX_HEAD_BYTES, False), (MAX_HEAD_BYTES + 1, True)):
        buffer = bytearray(start + b"x" * (size - len(start)) + b"\r\n\r\n")
        if refused:
            with pytest.raises(HttpError) as error:
                RequestFramer(MAX_BODY).take(buffer, lambda: None)
            assert error.value.status == 431
        else:
            assert RequestFramer(MAX_BODY).take(buffer, lambda: None) is not None


def test_blank_lines_before_a_request_are_dropped_all_at_once() -> None:
    buffer = bytearray(b"\r\n" * 40_000 + b"GET /after HTTP/1.1\r\n\r\n")
    request = RequestFramer(MAX_BODY).take(buffer, lambda: None)
    assert request is not None and request.target == "/after" and not buffer


@pytest.mark.parametrize(
    "body",
    [b"5;a\nb\r\nhello\r\n0\r\n\r\n", b"5\r\nhello\r\n0\r\nX: a\x00b\r\n\r\n",
     b"5\x00\r\nhello\r\n0\r\n\r\n"],
)  # fmt: skip
def test_a_bare_lf_or_nul_in_a_chunk_line_is_refused(body: bytes) -> None:
    with pytest.raises(HttpError) as error:
        parse(b"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert error.value.status == 400


@pytest.mark.parametrize(("status", "length"), [(200, b"Content-Length: 2"), (204, None)])
def test_the_routers_own_answers_have_a_length_unless_bodyless(
    status: int, length: bytes | None
) -> None:
    out = render(Message(status=status, reason="R", body=b"{}" if status == 200 else b""))
    lines = out.partition(b"\r\n\r\n")[0].split(b"\r\n")
    assert [x for x in lines if x.startswith(b"Content-Length")] == ([length] if length else [])
