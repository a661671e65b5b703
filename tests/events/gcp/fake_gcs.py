"""A fake of the Cloud Storage JSON API on loopback (the cloud boundary, unreachable from
tests): the calls `GcsObjects` makes (list pages, metadata, media, create-only upload) over a
dict of objects, recording what was listed and read."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["FakeGcs", "running_fake_gcs"]


class FakeGcs(BaseHTTPRequestHandler):
    objects: dict[tuple[str, str], bytes] = {}
    """(bucket, key) -> bytes."""
    media_reads: list[str] = []
    list_calls: list[dict[str, list[str]]] = []

    def _split(self) -> tuple[list[str], dict[str, list[str]]]:
        url = urlsplit(self.path)
        return [unquote(p) for p in url.path.split("/")], parse_qs(url.query)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts, query = self._split()  # ['', 'storage', 'v1', 'b', B, 'o'(, K)]
        if len(parts) == 6:  # a listing page
            self._send(200, self._page(parts[4], query))
            return
        data = self.objects.get((parts[4], parts[6]))
        if data is None:
            self._send(404, b'{"error": {"code": 404}}')
        elif query.get("alt") == ["media"]:
            self.media_reads.append(parts[6])
            self._send(200, data)
        else:
            self._send(200, json.dumps({"name": parts[6], "size": str(len(data))}).encode())

    def _page(self, bucket: str, query: dict[str, list[str]]) -> bytes:
        self.list_calls.append(query)
        prefix = query.get("prefix", [""])[0]
        size = int(query["maxResults"][0])
        names = sorted(k for b, k in self.objects if b == bucket and k.startswith(prefix))
        start = int(query.get("pageToken", ["0"])[0])
        page: dict[str, Any] = {"items": [{"name": n} for n in names[start : start + size]]}
        if start + size < len(names):
            page["nextPageToken"] = str(start + size)
        return json.dumps(page).encode()

    def do_POST(self) -> None:
        parts, query = self._split()  # ['', 'upload', 'storage', 'v1', 'b', B, 'o']
        key = (parts[5], query["name"][0])
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if query.get("ifGenerationMatch") == ["0"] and key in self.objects:
            self._send(412, b'{"error": {"code": 412}}')
            return
        self.objects[key] = body
        self._send(200, b"{}")

    def log_message(self, *args: object) -> None:
        """Quiet."""


@contextmanager
def running_fake_gcs() -> Iterator[str]:
    """A fresh fake on a free 127.0.0.1 port; yields its `host:port`."""
    FakeGcs.objects, FakeGcs.media_reads, FakeGcs.list_calls = {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGcs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
