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

Responses from the revisions' containers are read with the same rules (`read_response`).
Standard library only.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final, NoReturn

from modelstack.errors import ModelstackError

__all__ = [
    "HttpError",
    "Message",
    "Stream",
    "has_bare_cr_lf_or_nul",
    "read_request",
    "read_response",
    "render",
]

MAX_HEAD_BYTES: Final = 64 * 1024
"""A request or response head (start line and headers) larger than this is refused (431)."""
MAX_HEADER_LINES: Final = 128
MAX_CHUNK_LINE: Final = 4096
_RECV: Final = 64 * 1024  # under malloc's mmap threshold: no mmap per read
_TOKEN: Final = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DIGITS: Final = re.compile(rb"[0-9]{1,18}")
_HEX: Final = re.compile(rb"[0-9A-Fa-f]{1,15}")
_STATUS: Final = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?")
_VERSIONS: Final = (b"HTTP/1.1", b"HTTP/1.0")
_REQUEST_LINE: Final = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (/[\x21-\x7e]*) (HTTP/1\.[01])")
_FIELDS: Final = re.compile(
    rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n]*)*"
)


class HttpError(ModelstackError):
    """A message that cannot be framed or is refused; `status` is the answer to send."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Message:
    """A request (`method`, `target`) or a response (`status`, `reason`), with its body."""

    method: str = ""
    target: str = ""
    status: int = 0
    reason: str = ""
    version: str = "HTTP/1.1"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    _fields: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)

    def values(self, name: str) -> list[str]:
        """Every value of the header `name` (lower case), in order."""
        if self._fields is None:
            self._fields = {}
            for key, value in self.headers:
                self._fields.setdefault(key.lower(), []).append(value)
        return self._fields.get(name, [])

    def header(self, name: str) -> str | None:
        """The first value of the header `name` (lower case), or None."""
        found = self.values(name)
        return found[0] if found else None

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in (self.header("connection") or "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class Stream:
    """A socket and its read buffer; every read waits at most until a monotonic deadline.

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

    def peer_closed(self) -> bool:
        """Whether the peer closed an idle connection (or sent something unasked for)."""
        if self.buffer:
            return True
        try:
            self.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)  # b"" (closed) or data
        except BlockingIOError:
            return False
        except OSError:
            return True
        return True

    def read_head(self, idle_deadline: float, read_s: float) -> bytes | None:
        """The next head, without its final blank line; None on a clean end of the stream.

        Waiting for the first byte ends at `idle_deadline`; from the first byte on, the whole
        head must arrive within `read_s` seconds."""
        while self.buffer[:2] == b"\r\n":  # empty lines before a request are ignored
            del self.buffer[:2]
        deadline = time.monotonic() + read_s if self.buffer else idle_deadline
        searched = 0
        while True:
            end = self.buffer.find(b"\r\n\r\n", searched)
            if end >= 0:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise HttpError(
                    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    f"the message head is larger than {MAX_HEAD_BYTES} bytes",
                )
            searched = max(0, len(self.buffer) - 3)
            started = bool(self.buffer)
            if not self.fill(deadline):
                if not self.buffer:
                    return None
                raise HttpError(HTTPStatus.BAD_REQUEST, "the connection closed inside a head")
            if not started:
                while self.buffer[:2] == b"\r\n":
                    del self.buffer[:2]
                deadline = time.monotonic() + read_s

    def read_exact(self, size: int, deadline: float) -> bytes:
        while len(self.buffer) < size:
            if not self.fill(deadline):
                raise HttpError(HTTPStatus.BAD_REQUEST, "the connection closed inside a body")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_line(self, deadline: float) -> bytes:
        searched = 0
        while True:
            end = self.buffer.find(b"\r\n", searched)
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if len(self.buffer) > MAX_CHUNK_LINE:
                raise HttpError(HTTPStatus.BAD_REQUEST, "a chunk-size or trailer line is too long")
            searched = max(0, len(self.buffer) - 1)
            if not self.fill(deadline):
                raise HttpError(HTTPStatus.BAD_REQUEST, "the connection closed inside a body")

    def read_to_end(self, limit: int, deadline: float) -> bytes:
        while self.fill(deadline):
            if len(self.buffer) > limit:
                raise HttpError(HTTPStatus.BAD_GATEWAY, f"a body is larger than {limit} bytes")
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def read_request(
    stream: Stream,
    *,
    idle_deadline: float,
    read_s: float,
    max_body: int,
    on_continue: Callable[[], None],
) -> Message | None:
    """The next request with its whole body, or None when the client closed the connection.

    HttpError for a request that is malformed, ambiguous or too large; TimeoutError when it
    does not arrive in time. `on_continue` is called before reading the body of a request that
    asked for `Expect: 100-continue`."""
    head = stream.read_head(idle_deadline, read_s)
    if head is None:
        return None
    deadline = time.monotonic() + read_s
    start, headers, fields = _parse_head(head)
    line = _REQUEST_LINE.fullmatch(start)
    if line is None:
        _refuse_request_line(start)
    method, target, version = line.group(1, 2, 3)
    request = Message(
        method=method.decode("ascii"),
        target=target.decode("ascii"),
        version=version.decode("ascii"),
        headers=headers,
        _fields=fields,
    )
    size = _body_size(request, max_body)
    if size != 0 and (request.header("expect") or "").lower() == "100-continue":
        on_continue()
    request.body = _read_body(stream, size, max_body, deadline, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    return request


def _refuse_request_line(start: bytes) -> NoReturn:
    """The error for a request line `_REQUEST_LINE` does not match, saying what is wrong."""
    parts = start.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or parts[2] not in _VERSIONS:
        raise HttpError(HTTPStatus.BAD_REQUEST, "malformed request line")
    raise HttpError(HTTPStatus.BAD_REQUEST, "the request target must be a path (/...)")


def read_response(stream: Stream, *, deadline: float, max_body: int, head_only: bool) -> Message:
    """The response to a request (the body of a HEAD request's answer is empty by rule)."""
    while True:
        head = stream.read_head(deadline, max(0.0, deadline - time.monotonic()))
        if head is None:
            raise HttpError(HTTPStatus.BAD_GATEWAY, "the connection closed before any answer")
        start, headers, fields = _parse_head(head)
        match = _STATUS.fullmatch(start)
        if match is None:
            raise HttpError(HTTPStatus.BAD_GATEWAY, "malformed status line")
        status = int(match.group(1))
        if status >= 200:
            break
    response = Message(
        status=status,
        reason=(match.group(2) or b"").decode("latin-1"),
        version=start[:8].decode("ascii"),
        headers=headers,
        _fields=fields,
    )
    if head_only or status in (204, 304):
        return response
    if response.header("transfer-encoding") is None and response.header("content-length") is None:
        response.body = stream.read_to_end(max_body, deadline)
        response.headers.append(("Connection", "close"))
        return response
    size = _body_size(response, max_body, HTTPStatus.BAD_GATEWAY)
    response.body = _read_body(stream, size, max_body, deadline, HTTPStatus.BAD_GATEWAY)
    return response


def render(message: Message, *, close: bool = False, head_only: bool = False) -> bytes:
    """A response: status line, `message.headers`, Content-Length (unless `head_only`, the
    answer to HEAD, which keeps the headers it has and sends no body), Connection: close when
    `close`, then the body."""
    lines = [f"HTTP/1.1 {message.status} {message.reason}"]
    lines += [f"{name}: {value}" for name, value in message.headers]
    if not head_only:
        lines.append(f"Content-Length: {len(message.body)}")
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + message.body


def _parse_head(head: bytes) -> tuple[bytes, list[tuple[str, str]], dict[str, list[str]]]:
    """The start line, the header fields in order, and their values by lower-case name."""
    start, _, block = head.partition(b"\r\n")
    if has_bare_cr_lf_or_nul(head):
        raise HttpError(HTTPStatus.BAD_REQUEST, "a bare CR or LF, or a NUL, in the head")
    if not block:
        return start, [], {}
    if block.count(b"\r\n") >= MAX_HEADER_LINES:
        raise HttpError(
            HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, f"more than {MAX_HEADER_LINES} headers"
        )
    if not _FIELDS.fullmatch(block):  # a name that is not a token, no colon, line folding
        bad = next(x for x in block.split(b"\r\n") if not _FIELDS.fullmatch(x))
        raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed header line {bad[:60]!r}")
    headers = []
    fields: dict[str, list[str]] = {}
    for line in block.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        value = value.strip(" \t")
        headers.append((name, value))
        fields.setdefault(name.lower(), []).append(value)
    return start, headers, fields


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


def _read_body(
    stream: Stream, size: int, max_body: int, deadline: float, too_large: HTTPStatus
) -> bytes:
    if size >= 0:
        return stream.read_exact(size, deadline) if size else b""
    chunks: list[bytes] = []
    total = 0
    while True:
        line = stream.read_line(deadline)
        digits = line.split(b";", 1)[0].rstrip(b" \t")
        if not _HEX.fullmatch(digits):
            raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed chunk size {line[:40]!r}")
        chunk = int(digits, 16)
        if chunk == 0:
            break
        total += chunk
        if total > max_body:
            raise HttpError(too_large, f"the body is larger than the limit of {max_body} bytes")
        chunks.append(stream.read_exact(chunk, deadline))
        if stream.read_exact(2, deadline) != b"\r\n":
            raise HttpError(HTTPStatus.BAD_REQUEST, "a chunk is longer than its size")
    for _ in range(MAX_HEADER_LINES + 1):  # trailers, ignored
        trailer = stream.read_line(deadline)
        if not trailer:
            return b"".join(chunks)
        if b":" not in trailer or trailer[:1] in (b" ", b"\t"):
            raise HttpError(HTTPStatus.BAD_REQUEST, f"malformed trailer line {trailer[:40]!r}")
    raise HttpError(HTTPStatus.BAD_REQUEST, f"more than {MAX_HEADER_LINES} trailer lines")


def _set_timeout(sock: socket.socket, option: int, seconds: float) -> None:
    whole = int(seconds)
    sock.setsockopt(
        socket.SOL_SOCKET, option, struct.pack("ll", whole, int((seconds - whole) * 1e6))
    )
