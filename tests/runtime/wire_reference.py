"""Reference implementations the fast paths are checked against: the straightforward forms.

Each is the plain, line-by-line version of a function the runtime now runs faster (a cache, one
regular expression over all header lines, a template, a shortcut for small bodies). The tests
in ``test_fast_paths.py`` assert that the runtime's versions answer and refuse exactly as these.
"""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from typing import Any

from modelstack_runtime.errors import (
    BadRequest,
    HeaderFieldsTooLarge,
    LengthRequired,
    PayloadTooLarge,
)
from modelstack_runtime.http_wire import MAX_HEADERS
from modelstack_runtime.json_limits import MAX_JSON_DEPTH, json_depth

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(r"/[\x21-\x7e]*|\*")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_DIGITS = re.compile(r"[0-9]+")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def parse_head(raw: bytes) -> tuple[str, str, dict[str, str], int, bool, bool]:
    text = raw.decode("latin-1")
    request_line, *lines = text.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not _TARGET.fullmatch(parts[1]):
        raise BadRequest(f"malformed request line {request_line[:100]!r}")
    method, target, version = parts
    if version not in {"HTTP/1.1", "HTTP/1.0"}:
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
    if "transfer-encoding" in headers:
        if lengths:
            raise BadRequest("a request may not have both Transfer-Encoding and Content-Length")
        raise LengthRequired("send the request body with a Content-Length header")
    length = 0
    if lengths:
        if len(set(lengths)) != 1 or not _DIGITS.fullmatch(lengths[0]):
            raise BadRequest(f"invalid Content-Length {headers['content-length'][:100]!r}")
        length = int(lengths[0]) if len(lengths[0]) < 19 else 10**18
    options = {option.strip().lower() for option in headers.get("connection", "").split(",")}
    keep_alive = "keep-alive" in options if version == "HTTP/1.0" else "close" not in options
    expect = headers.get("expect", "").lower() == "100-continue"
    return method, target, headers, length, keep_alive, expect


def reply_head(status: HTTPStatus, headers: dict[str, str], length: int, close: bool) -> bytes:
    lines = [f"HTTP/1.1 {status.value} {status.phrase}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    if status != HTTPStatus.NO_CONTENT:
        lines.append(f"Content-Length: {length}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_limits_error(data: bytes, max_values: int) -> type[Exception] | None:
    """The error the full check raises for ``data``, or None."""
    if b'"' in data:
        data = _STRING.sub(b"0", data)
    opened = data.count(b"[") + data.count(b"{")
    if data.count(b",") + opened + 1 > max_values:
        return PayloadTooLarge
    if opened > MAX_JSON_DEPTH and json_depth(data) > MAX_JSON_DEPTH:
        return BadRequest
    return None


def access_record_line(record: dict[str, Any]) -> str:
    """An access line as the dict encoding wrote it."""
    return json.JSONEncoder(separators=(",", ":")).encode(record)
