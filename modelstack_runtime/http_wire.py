"""HTTP/1.1 request heads, parsed strictly (RFC 9112), and reply heads.

One request head is the bytes up to the first blank line. The parser refuses what proxies and
servers could read differently: a body framed by both ``Transfer-Encoding`` and
``Content-Length``, two different ``Content-Length`` values, a length that is not plain ASCII
digits, whitespace before a header's colon, folded header lines and control characters.

Parsing is a pure function of the head's bytes, and a keep-alive client sends the same head
request after request, so parsed heads of up to ``HEAD_CACHE_BYTES`` are remembered (at most
``HEAD_CACHE_ENTRIES`` of them; only heads that parsed, so a bad head is refused every time).
The header lines of a head are checked with one regular expression over all of them; the
line-by-line check runs only to name what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType
from typing import Final, NamedTuple

from modelstack_runtime.errors import BadRequest, HeaderFieldsTooLarge, LengthRequired

__all__ = [
    "HEAD_CACHE_BYTES",
    "HEAD_CACHE_ENTRIES",
    "MAX_HEADERS",
    "MAX_HEAD_BYTES",
    "RequestHead",
    "parse_head",
    "parse_head_uncached",
    "reply_head",
]

MAX_HEAD_BYTES: Final = 64 * 1024
"""The request line and headers together; a larger head is refused with 431."""
MAX_HEADERS: Final = 100
HEAD_CACHE_ENTRIES: Final = 256
"""How many distinct parsed request heads are remembered (a few hundred KiB at most)."""
HEAD_CACHE_BYTES: Final = 1024
"""Only heads up to this size are remembered; larger ones are parsed every time."""

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET: Final = re.compile(r"/[\x21-\x7e]*|\*")
_VALUE: Final = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DIGITS: Final = re.compile(r"[0-9]+")
_TOO_LONG: Final = 10**18  # a length with more digits than this is refused as too large
_VERSIONS: Final = frozenset({"HTTP/1.1", "HTTP/1.0"})
# Every header line valid at once: a token, a colon, a value of allowed characters, CRLF.
_LINES: Final = re.compile(r"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*")
_cache: Final[dict[bytes, RequestHead]] = {}


class RequestHead(NamedTuple):
    method: str
    target: str
    headers: Mapping[str, str]  # lower-cased names; repeated fields joined with ", "; read-only
    content_length: int  # 0 without a body
    keep_alive: bool
    expect_continue: bool


def parse_head(raw: bytes) -> RequestHead:
    """Parse a request head (without the final blank line); repeated heads come from a cache."""
    head = _cache.get(raw)
    if head is not None:
        return head
    head = parse_head_uncached(raw)
    if len(raw) <= HEAD_CACHE_BYTES:
        if len(_cache) >= HEAD_CACHE_ENTRIES:
            _cache.pop(next(iter(_cache), b""), None)  # the oldest entry
        _cache[raw] = head
    return head


def parse_head_uncached(raw: bytes) -> RequestHead:
    """Parse a request head (without the final blank line), every time."""
    text = raw.decode("latin-1")
    request_line, crlf, rest = text.partition("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise BadRequest(f"malformed request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in _VERSIONS:
        raise BadRequest(f"unsupported HTTP version {version[:20]!r}; use HTTP/1.1")
    lines = rest.split("\r\n") if crlf else []
    if len(lines) > MAX_HEADERS:
        raise HeaderFieldsTooLarge(f"more than {MAX_HEADERS} header fields")
    if not _LINES.fullmatch(rest + "\r\n" if lines else ""):
        _check_lines(lines)  # raises, naming the line
    headers: dict[str, str] = {}
    lengths: list[str] = []
    for line in lines:
        name, _, value = line.partition(":")
        value = value.strip(" \t")
        key = name.lower()
        if key == "content-length":
            lengths.extend(part.strip(" \t") for part in value.split(","))
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return RequestHead(
        method=method,
        target=target,
        headers=MappingProxyType(headers),
        content_length=_content_length(lengths, headers),
        keep_alive=_keep_alive(version, headers.get("connection", "")),
        expect_continue=headers.get("expect", "").lower() == "100-continue",
    )


def _check_lines(lines: list[str]) -> None:
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest(f"malformed header line {line[:100]!r}")
        if not _VALUE.fullmatch(value.strip(" \t")):
            raise BadRequest(f"header {name!r} contains control characters")


def _content_length(lengths: list[str], headers: dict[str, str]) -> int:
    if "transfer-encoding" in headers:
        if lengths:
            raise BadRequest("a request may not have both Transfer-Encoding and Content-Length")
        raise LengthRequired("send the request body with a Content-Length header")
    if not lengths:
        return 0
    if len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0]):
        raise BadRequest(f"invalid Content-Length {headers['content-length'][:100]!r}")
    return int(lengths[0]) if len(lengths[0]) < 19 else _TOO_LONG


def _keep_alive(version: str, connection: str) -> bool:
    options = {option.strip().lower() for option in connection.split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in options
    return "close" not in options


def reply_head(status: HTTPStatus, headers: Mapping[str, str], length: int, close: bool) -> bytes:
    """The status line and headers of a reply, ending with the blank line."""
    key = (status, tuple(headers.items()), close)
    parts = _replies.get(key)
    if parts is None:
        parts = _reply_parts(status, headers, close)
        if len(_replies) >= _REPLY_CACHE_ENTRIES:
            _replies.pop(next(iter(_replies), key), None)
        _replies[key] = parts
    before, after = parts
    if status == HTTPStatus.NO_CONTENT:  # a 204 must not carry Content-Length (RFC 9110)
        return before + after
    return b"%s%d%s" % (before, length, after)


def _reply_parts(
    status: HTTPStatus, headers: Mapping[str, str], close: bool
) -> tuple[bytes, bytes]:
    """What comes before and after the Content-Length value of a reply head."""
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    before = "\r\n".join(lines) + "\r\n"
    if status != HTTPStatus.NO_CONTENT:
        before += "Content-Length: "
    after = "\r\n" if status != HTTPStatus.NO_CONTENT else ""
    if close:
        after += "Connection: close\r\n"
    return before.encode("latin-1"), (after + "\r\n").encode("latin-1")


_REPLY_CACHE_ENTRIES: Final = 64
_replies: Final[
    dict[tuple[HTTPStatus, tuple[tuple[str, str], ...], bool], tuple[bytes, bytes]]
] = {}
