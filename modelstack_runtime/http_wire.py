"""HTTP/1.1 request heads, parsed strictly (RFC 9112), and reply heads.

One request head is the bytes up to the first blank line. The parser refuses what proxies and
servers could read differently: a body framed by both ``Transfer-Encoding`` and
``Content-Length``, two different ``Content-Length`` values, a length that is not plain ASCII
digits, whitespace before a header's colon, folded header lines and control characters.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Final, NamedTuple

from modelstack_runtime.errors import BadRequest, HeaderFieldsTooLarge, LengthRequired

__all__ = ["MAX_HEADERS", "MAX_HEAD_BYTES", "RequestHead", "parse_head", "reply_head"]

MAX_HEAD_BYTES: Final = 64 * 1024
"""The request line and headers together; a larger head is refused with 431."""
MAX_HEADERS: Final = 100

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET: Final = re.compile(r"/[\x21-\x7e]*|\*")
_VALUE: Final = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DIGITS: Final = re.compile(r"[0-9]+")
_TOO_LONG: Final = 10**18  # a length with more digits than this is refused as too large
_VERSIONS: Final = frozenset({"HTTP/1.1", "HTTP/1.0"})


class RequestHead(NamedTuple):
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names; repeated fields joined with ", "
    content_length: int  # 0 without a body
    keep_alive: bool
    expect_continue: bool


def parse_head(raw: bytes) -> RequestHead:
    """Parse a request head (without the final blank line)."""
    text = raw.decode("latin-1")
    request_line, *lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise BadRequest(f"malformed request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in _VERSIONS:
        raise BadRequest(f"unsupported HTTP version {version[:20]!r}; use HTTP/1.1")
    if len(lines) > MAX_HEADERS:
        raise HeaderFieldsTooLarge(f"more than {MAX_HEADERS} header fields")
    headers: dict[str, str] = {}
    lengths: list[str] = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise BadRequest(f"malformed header line {line[:100]!r}")
        value = value.strip(" \t")
        if not _VALUE.fullmatch(value):
            raise BadRequest(f"header {name!r} contains control characters")
        key = name.lower()
        if key == "content-length":
            lengths.extend(part.strip(" \t") for part in value.split(","))
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return RequestHead(
        method=method,
        target=target,
        headers=headers,
        content_length=_content_length(lengths, headers),
        keep_alive=_keep_alive(version, headers.get("connection", "")),
        expect_continue=headers.get("expect", "").lower() == "100-continue",
    )


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


def reply_head(status: HTTPStatus, headers: dict[str, str], length: int, close: bool) -> bytes:
    """The status line and headers of a reply, ending with the blank line."""
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if status != HTTPStatus.NO_CONTENT:  # a 204 must not carry Content-Length (RFC 9110)
        lines.append(f"Content-Length: {length}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
