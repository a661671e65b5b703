"""Strict HTTP/1.1 message framing for the local router, on plain sockets.

A request is read whole (head and body) before anything is done with it, against deadlines,
and only when its framing is unambiguous, so no byte of one request can be taken for the start
of another (request smuggling):

* `Transfer-Encoding` together with `Content-Length`, more than one `Content-Length`, or a
  `Content-Length` that is not plain decimal digits: 400, and the connection is closed;
* `Transfer-Encoding: chunked` is decoded strictly (hex sizes, CRLF after every chunk, bounded
  trailers); any other transfer coding is 501;
* obsolete line folding, a header name with white space before the colon, a bare CR or LF:
  400;
* a body over the limit is refused from its declared size (413) without being read.

A head is checked by one regular expression, in C, that admits exactly the heads these rules
allow (`_REQUEST_HEAD`, `_RESPONSE_HEAD`); only a head it refuses is taken apart, rule by
rule, to say what is wrong. The few headers framing and routing read are picked out by one
more (`FRAMING_HEADERS`); the rest are split out only if something asks for them. So a
request costs the router little Python, which is what its added latency is made of on a CPU
that was idle.

The framers (`RequestFramer`, `ResponseFramer`) take whole messages out of a read buffer and
never block, so one thread can frame every connection (the router's event loop); responses
from the revisions' containers are framed by the same rules, their errors 502s. `read_request`
is the same framing on a blocking socket. Standard library only.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Final, NoReturn

from modelstack.errors import ModelstackError

__all__ = [
    "HttpError",
    "Message",
    "RequestFramer",
    "ResponseFramer",
    "Stream",
    "has_bare_cr_lf_or_nul",
    "read_request",
    "render",
]

MAX_HEAD_BYTES: Final = 64 * 1024
"""A request or response head (start line and headers) larger than this is refused (431)."""
MAX_HEADER_LINES: Final = 128
MAX_CHUNK_LINE: Final = 4096
_TOO_LARGE: Final = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
_BAD_GATEWAY: Final = HTTPStatus.BAD_GATEWAY
_RECV: Final = 64 * 1024  # under malloc's mmap threshold: no mmap per read
_BLANK_LINES: Final = re.compile(rb"(?:\r\n)*")
_TOKEN: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")
_HEX: Final = re.compile(rb"[0-9A-Fa-f]{1,15}")
_VERSIONS: Final = (b"HTTP/1.1", b"HTTP/1.0")
_REQUEST_LINE: Final = rb"(" + _TOKEN + rb") (/[\x21-\x7e]*) (HTTP/1\.[01])"
_STATUS_LINE: Final = rb"(HTTP/1\.[01]) ([1-5][0-9][0-9])(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?"
_FIELD_LINE: Final = _TOKEN + rb":[^\r\n\x00]*"
_FIELD_LINES: Final = rb"((?:\r\n" + _FIELD_LINE + rb"){0,%d})" % MAX_HEADER_LINES
_REQUEST_HEAD: Final = re.compile(_REQUEST_LINE + _FIELD_LINES)
_RESPONSE_HEAD: Final = re.compile(_STATUS_LINE + _FIELD_LINES)
"""A whole head in one match: its start line, then at most `MAX_HEADER_LINES` header lines,
each a token, a colon and a value without CR, LF or NUL, so no bare CR or LF can hide in it.
A head it does not match is taken apart by `_refuse_head` to say what is wrong."""
FRAMING_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "expect", "x-modelstack-revision"}
)
"""The headers framing and routing read: picked out of a head by one regex as it is framed."""
_PICK: Final = re.compile(
    rb"\r\n(" + b"|".join(n.encode() for n in sorted(FRAMING_HEADERS)) + rb"):([^\r\n]*)",
    re.IGNORECASE,
)


class HttpError(ModelstackError):
    """A message that cannot be framed or is refused; `status` is the answer to send."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Message:
    """A request (`method`, `target`) or a response (`status`, `reason`), with its body.

    A message the framers took keeps its header lines as they arrived (`fields`, each line
    led by its CRLF) and, looked up once, the values of the few headers framing and routing
    read (`FRAMING_HEADERS`); the full `headers` list is split out only when asked for."""

    __slots__ = (
        "_headers",
        "_picked",
        "_values",
        "body",
        "fields",
        "method",
        "reason",
        "status",
        "target",
        "version",
    )  # fmt: skip

    def __init__(
        self,
        *,
        method: str = "",
        target: str = "",
        status: int = 0,
        reason: str = "",
        version: str = "HTTP/1.1",
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        fields: bytes = b"",
        picked: dict[str, list[str]] | None = None,
    ) -> None:
        self.method, self.target, self.version = method, target, version
        self.status, self.reason, self.body = status, reason, body
        self.fields = fields
        self._headers = headers if headers is not None or fields else []
        self._picked = picked
        self._values: dict[str, list[str]] | None = None

    def __repr__(self) -> str:
        start = f"{self.method} {self.target}" if self.method else f"{self.status} {self.reason}"
        return f"<Message {start} {len(self.body)} bytes>"

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header field, in order, as (name, value)."""
        if self._headers is None:
            self._headers = _split_fields(self.fields)
        return self._headers

    def values(self, name: str) -> list[str]:
        """Every value of the header `name` (lower case), in order."""
        if self._picked is not None and name in FRAMING_HEADERS:
            return self._picked.get(name, [])
        if self._values is None:
            self._values = {}
            for key, value in self.headers:
                self._values.setdefault(key.lower(), []).append(value)
        return self._values.get(name, [])

    def field_lines(self) -> bytes:
        """The header lines, each led by its CRLF: as they arrived, or `headers` rendered."""
        if self.fields or not self._headers:
            return self.fields
        return "".join(f"\r\n{n}: {v}" for n, v in self._headers).encode("latin-1")

    def header(self, name: str) -> str | None:
        """The first value of the header `name` (lower case), or None."""
        found = self.values(name)
        return found[0] if found else None

    @property
    def keep_alive(self) -> bool:
        values = self.values("connection")
        if not values:
            return self.version != "HTTP/1.0"
        tokens = {t.strip().lower() for v in values for t in v.split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class Stream:
    """A blocking socket and its read buffer; every read waits at most until a deadline.

    The socket is put in blocking mode with kernel receive and send timeouts, so a read or
    write is one system call (Python's own timeouts poll before each): the receive timeout
    is lowered to what is left of the deadline whenever it would outlast it, and a send may
    block at most `send_timeout_s`."""

    __slots__ = ("_timeout", "buffer", "sock")

    def __init__(self, sock: socket.socket, send_timeout_s: float = 30.0) -> None:
        self.sock = sock
        self.buffer = bytearray()
        sock.settimeout(None)
        _set_timeout(sock, socket.SO_SNDTIMEO, send_timeout_s)
        self._timeout = 0.0  # 0: the kernel's receive timeout is not set (infinite)

    def fill(self, deadline: float) -> bool:
        """Receive more bytes; False at the end of the stream. TimeoutError past `deadline`."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the deadline passed")
            if self._timeout == 0.0 or self._timeout > remaining:
                self._timeout = max(remaining, 0.001)
                _set_timeout(self.sock, socket.SO_RCVTIMEO, self._timeout)
            try:
                data = self.sock.recv(_RECV)
            except BlockingIOError:  # the kernel's timeout: check the deadline again
                continue
            if not data:
                return False
            self.buffer += data
            return True


class RequestFramer:
    """Takes whole requests, one at a time, out of a connection's read buffer, strictly.

    `take` is called whenever more bytes have arrived; it never blocks and never reads a
    byte past the request it returns, so what follows stays in the buffer for the next."""

    __slots__ = ("_body", "_head", "max_body")

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self._head = _HeadFinder()
        self._body: _Body | None = None

    @property
    def in_body(self) -> bool:
        """Whether the head of the next request has been taken and its body is awaited."""
        return self._body is not None

    def take(self, buffer: bytearray, on_continue: Callable[[], None]) -> Message | None:
        """The next request with its whole body, taken out of `buffer`, or None until more
        bytes arrive. HttpError for a request that is malformed, ambiguous or too large.
        `on_continue` is called once the head of a request that asked for
        `Expect: 100-continue` (and has a body) has been taken."""
        if self._body is None:
            head = self._head.take(buffer)
            if head is None:
                return None
            request = _request_of(head)
            size = _body_size(request, self.max_body)
            if 0 <= size <= len(buffer):  # the whole body is here already (the common case)
                request.body = bytes(buffer[:size])
                del buffer[:size]
                return request
            self._body = _Body(request, size, self.max_body, _TOO_LARGE)
            if (request.header("expect") or "").lower() == "100-continue":
                on_continue()
        message = self._body.take(buffer)
        if message is not None:
            self._body = None
        return message


class ResponseFramer:
    """Takes the whole response to one request out of a connection's read buffer; interim
    (1xx) answers are skipped. A response with neither `Content-Length` nor
    `Transfer-Encoding` ends with the connection (`at_end`); its errors are 502s."""

    __slots__ = ("_body", "_head", "head_only", "max_body")

    def __init__(self, max_body: int, head_only: bool) -> None:
        self.max_body = max_body
        self.head_only = head_only
        self._head = _HeadFinder()
        self._body: _Body | None = None

    def expect(self, *, head_only: bool) -> None:
        """Start on the response to the next request (an answer to HEAD when `head_only`)."""
        self.head_only, self._body = head_only, None
        self._head.reset()

    @property
    def started(self) -> bool:
        """Whether any byte of the response has arrived."""
        return self._body is not None or self._head.started

    def take(self, buffer: bytearray) -> Message | None:
        """The response, taken out of `buffer`, or None until more bytes arrive."""
        while self._body is None:
            head = self._head.take(buffer)
            if head is None:
                return None
            response = _response_of(head)
            if response.status < 200:
                continue
            if self.head_only or response.status in (204, 304):
                return response
            picked = response._picked or {}
            if "transfer-encoding" not in picked and "content-length" not in picked:
                self._body = _Body(response, None, self.max_body, _BAD_GATEWAY)
                continue
            size = _body_size(response, self.max_body, _BAD_GATEWAY)
            if 0 <= size <= len(buffer):  # the whole body is here already (the common case)
                response.body = bytes(buffer[:size])
                del buffer[:size]
                return response
            self._body = _Body(response, size, self.max_body, _BAD_GATEWAY)
        return self._body.take(buffer)

    def at_end(self, buffer: bytearray) -> Message:
        """The response once the connection has closed: a body that ends with the connection
        is whole now; anything else was cut short (HttpError 502)."""
        if self._body is None or self._body.size is not None:
            where = "inside an answer" if self.started else "before any answer"
            raise HttpError(HTTPStatus.BAD_GATEWAY, f"the connection closed {where}")
        response = self._body.message
        response.body = bytes(buffer)
        buffer.clear()
        return response


class _HeadFinder:
    """Finds the end of a head in a growing buffer without searching any byte twice."""

    __slots__ = ("_searched", "started")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._searched = 0
        self.started = False

    def take(self, buffer: bytearray) -> bytes | None:
        """The next head without its final blank line, taken out of `buffer`, or None."""
        if not self.started:
            if buffer.startswith(b"\r\n"):  # empty lines before a message are ignored
                blank = _BLANK_LINES.match(buffer)
                if blank:
                    del buffer[: blank.end()]
            if buffer == b"\r":
                return None  # perhaps the start of another empty line
            self.started = bool(buffer)
        end = buffer.find(b"\r\n\r\n", self._searched, MAX_HEAD_BYTES + 4)
        if end < 0:
            if len(buffer) >= MAX_HEAD_BYTES + 4:
                raise HttpError(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"the message head is larger than {MAX_HEAD_BYTES} bytes",
                )
            self._searched = max(0, len(buffer) - 3)
            return None
        head = bytes(buffer[:end])
        del buffer[: end + 4]
        self._searched, self.started = 0, False
        return head


class _Body:
    """The body of one message: `size` bytes, chunked (-1), or up to the end (None)."""

    __slots__ = (
        "_chunks",
        "_left",
        "_state",
        "_total",
        "_trailers",
        "max_body",
        "message",
        "size",
        "too_large",
    )  # fmt: skip

    def __init__(
        self, message: Message, size: int | None, max_body: int, too_large: HTTPStatus
    ) -> None:
        self.message, self.size, self.max_body, self.too_large = message, size, max_body, too_large
        self._chunks: list[bytes] = []
        self._state, self._left, self._total, self._trailers = "size", 0, 0, 0

    def take(self, buffer: bytearray) -> Message | None:
        if self.size is None:
            if len(buffer) > self.max_body:
                raise HttpError(self.too_large, f"a body is larger than {self.max_body} bytes")
            return None
        if self.size >= 0:
            if len(buffer) < self.size:
                return None
            self.message.body = bytes(buffer[: self.size])
            del buffer[: self.size]
            return self.message
        if not self._take_chunks(buffer):
            return None
        self.message.body = b"".join(self._chunks)
        return self.message

    def _take_chunks(self, buffer: bytearray) -> bool:
        """Decode what has arrived of a chunked body; True once its last trailer is in."""
        while True:
            if self._state == "data":
                if buffer:
                    taken = bytes(buffer[: self._left])
                    del buffer[: len(taken)]
                    self._chunks.append(taken)
                    self._left -= len(taken)
                if self._left:
                    return False
                self._state = "end"
            if self._state == "end":
                if len(buffer) < 2:
                    return False
                if buffer[:2] != b"\r\n":
                    raise HttpError(HTTPStatus.BAD_REQUEST, "a chunk is longer than its size")
                del buffer[:2]
                self._state = "size"
            line = _take_line(buffer)
            if line is None:
                return False
            if self._state == "size":
                self._start_chunk(line)
            elif not line:
                return True
            elif b":" not in line or line[:1] in (b" ", b"\t"):
                raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed trailer line {line[:40]!r}")
            else:
                self._trailers += 1
                if self._trailers > MAX_HEADER_LINES:
                    raise HttpError(
                        HTTPStatus.BAD_REQUEST, f"more than {MAX_HEADER_LINES} trailer lines"
                    )

    def _start_chunk(self, line: bytes) -> None:
        digits = line.split(b";", 1)[0].rstrip(b" \t")
        if not _HEX.fullmatch(digits):
            raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed chunk size {line[:40]!r}")
        size = int(digits, 16)
        if size == 0:
            self._state = "trailers"
            return
        self._total += size
        if self._total > self.max_body:
            raise HttpError(
                self.too_large, f"the body is larger than the limit of {self.max_body} bytes"
            )
        self._state, self._left = "data", size


def _take_line(buffer: bytearray) -> bytes | None:
    """A chunk-size or trailer line taken out of `buffer` (bounded), or None."""
    end = buffer.find(b"\r\n", 0, MAX_CHUNK_LINE + 2)
    if end < 0:
        if len(buffer) > MAX_CHUNK_LINE:
            raise HttpError(HTTPStatus.BAD_REQUEST, "a chunk-size or trailer line is too long")
        return None
    line = bytes(buffer[:end])
    del buffer[: end + 2]
    if b"\r" in line or b"\n" in line or b"\x00" in line:
        raise HttpError(HTTPStatus.BAD_REQUEST, "a bare CR or LF, or a NUL, in a chunked body")
    return line


def read_request(
    stream: Stream,
    *,
    idle_deadline: float,
    read_s: float,
    max_body: int,
    on_continue: Callable[[], None],
) -> Message | None:
    """The next request on a blocking stream, or None when the client closed the connection.

    Waiting for its first byte ends at `idle_deadline`; from then on its head must arrive
    within `read_s` seconds, and its body within `read_s` seconds of its head. HttpError for
    a request that is malformed, ambiguous or too large; TimeoutError when it is late."""
    framer = RequestFramer(max_body)
    deadline = idle_deadline
    waiting = True  # for the first byte
    in_body = False
    while True:
        request = framer.take(stream.buffer, on_continue)
        if request is not None:
            return request
        if waiting and stream.buffer:
            waiting, deadline = False, time.monotonic() + read_s
        if framer.in_body and not in_body:
            in_body, deadline = True, time.monotonic() + read_s
        if not stream.fill(deadline):
            if waiting and not stream.buffer:
                return None
            where = "a body" if framer.in_body else "a head"
            raise HttpError(HTTPStatus.BAD_REQUEST, f"the connection closed inside {where}")


def _request_of(head: bytes) -> Message:
    match = _REQUEST_HEAD.fullmatch(head)
    if match is None:
        _refuse_head(head, is_request=True)
    method, target, version, fields = match.groups()
    return Message(
        method=method.decode("ascii"),
        target=target.decode("ascii"),
        version=version.decode("ascii"),
        fields=fields,
        picked=_picked(fields),
    )


def _response_of(head: bytes) -> Message:
    match = _RESPONSE_HEAD.fullmatch(head)
    if match is None:
        _refuse_head(head, is_request=False)
    version, status, reason, fields = match.groups()
    return Message(
        status=int(status),
        reason=(reason or b"").decode("latin-1"),
        version=version.decode("ascii"),
        fields=fields,
        picked=_picked(fields),
    )


def _picked(fields: bytes) -> dict[str, list[str]]:
    """The values of the `FRAMING_HEADERS` among header lines, by lower-case name."""
    picked: dict[str, list[str]] = {}
    for name, value in _PICK.findall(fields):
        key = name.decode("ascii").lower()
        picked.setdefault(key, []).append(value.strip(b" \t").decode("latin-1"))
    return picked


def _split_fields(fields: bytes) -> list[tuple[str, str]]:
    """Header lines as they arrived (each led by its CRLF), as (name, value) in order."""
    headers = []
    for line in fields.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip(" \t")))
    return headers


def _refuse_head(head: bytes, *, is_request: bool) -> NoReturn:
    """The error for a head `_REQUEST_HEAD` or `_RESPONSE_HEAD` does not match: its checks one
    by one, to say what is wrong."""
    if has_bare_cr_lf_or_nul(head):
        raise HttpError(HTTPStatus.BAD_REQUEST, "a bare CR or LF, or a NUL, in the head")
    start, _, block = head.partition(b"\r\n")
    lines = block.split(b"\r\n") if block else []
    if len(lines) > MAX_HEADER_LINES:
        raise HttpError(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"more than {MAX_HEADER_LINES} headers"
        )
    bad = next((x for x in lines if not re.fullmatch(_FIELD_LINE, x)), None)
    if bad is not None:  # a name that is not a token, no colon, line folding
        raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed header line {bad[:60]!r}")
    if not is_request:
        raise HttpError(HTTPStatus.BAD_GATEWAY, "malformed status line")
    parts = start.split(b" ")
    if len(parts) != 3 or not re.fullmatch(_TOKEN, parts[0]) or parts[2] not in _VERSIONS:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    raise HttpError(HTTPStatus.BAD_REQUEST, "the request target must be a path (/...)")


def render(
    message: Message, *, close: bool = False, head_only: bool = False, fields: bytes | None = None
) -> bytes:
    """A response: status line, the header lines (`fields`, each led by its CRLF, or the
    message's own), Content-Length, Connection: close when `close`, then the body. An answer
    to HEAD (`head_only`), a 204 and a 304 have no body and get no Content-Length of ours:
    the first two keep any in their header lines."""
    bodyless = head_only or message.status in (204, 304)
    return b"HTTP/1.1 %d %s%s%s%s\r\n\r\n%s" % (
        message.status,
        message.reason.encode("latin-1"),
        message.field_lines() if fields is None else fields,
        b"" if bodyless else b"\r\nContent-Length: %d" % len(message.body),
        b"\r\nConnection: close" if close else b"",
        b"" if bodyless else message.body,
    )


def has_bare_cr_lf_or_nul(data: bytes) -> bool:
    """Whether `data` holds a CR not followed by LF, an LF not preceded by CR, or a NUL.

    Four scans in C (each CRLF holds exactly one CR and one LF, so the counts agree only when
    every CR and every LF belongs to a CRLF), several times faster than one regex search with
    look-arounds."""
    pairs = data.count(b"\r\n")
    return data.count(b"\r") != pairs or data.count(b"\n") != pairs or b"\x00" in data


def _body_size(message: Message, max_body: int, refuse: HTTPStatus = HTTPStatus.BAD_REQUEST) -> int:
    """The declared body size, or -1 for a chunked body."""
    lengths = message.values("content-length")
    codings = message.values("transfer-encoding")
    if codings and lengths:
        raise HttpError(refuse, "both Transfer-Encoding and Content-Length: ambiguous length")
    if len(lengths) > 1:
        raise HttpError(refuse, "more than one Content-Length header")
    if codings:
        if message.version == "HTTP/1.0":
            raise HttpError(refuse, "Transfer-Encoding in an HTTP/1.0 message")
        if len(codings) != 1 or codings[0].lower() != "chunked":
            raise HttpError(
                HTTPStatus.NOT_IMPLEMENTED if refuse == HTTPStatus.BAD_REQUEST else refuse,
                f"Transfer-Encoding {', '.join(codings)!r}: only 'chunked' is supported",
            )
        return -1
    if not lengths:
        return 0
    if not _DIGITS.fullmatch(lengths[0].encode("latin-1")):
        raise HttpError(refuse, f"Content-Length {lengths[0][:40]!r} is not a decimal number")
    size = int(lengths[0])
    if size > max_body:
        raise HttpError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE if refuse == HTTPStatus.BAD_REQUEST else refuse,
            f"the body of {size} bytes is larger than the limit of {max_body} bytes",
        )
    return size


def _set_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    whole = int(seconds)
    sock.setsockopt(
        socket.SOL_SOCKET, option, struct.pack("ll", whole, int((seconds - whole) * 1e6))
    )
