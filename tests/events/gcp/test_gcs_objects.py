"""The Cloud Storage JSON API client against a fake of that API on loopback (the cloud itself
cannot be reached from tests)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from modelstack_runtime.errors import PayloadTooLarge
from modelstack_runtime.events.gcp_clients import GcsObjects, gcp_clients
from modelstack_runtime.events.rows import RowLimits
from modelstack_runtime.events.s3 import read_object


class FakeGcs(BaseHTTPRequestHandler):
    """The three JSON API calls the client makes, over a dict of objects."""

    objects: dict[tuple[str, str], bytes] = {}
    media_reads: list[str] = []

    def _split(self) -> tuple[list[str], dict[str, list[str]]]:
        url = urlsplit(self.path)
        return [unquote(p) for p in url.path.split("/")], parse_qs(url.query)

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        parts, query = self._split()  # ['', 'storage', 'v1', 'b', B, 'o', K]
        data = self.objects.get((parts[4], parts[6]))
        if data is None:
            self._send(404, b'{"error": {"code": 404}}')
        elif query.get("alt") == ["media"]:
            self.media_reads.append(parts[6])
            self._send(200, data)
        else:
            self._send(200, json.dumps({"name": parts[6], "size": str(len(data))}).encode())

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


@pytest.fixture
def gcs() -> Iterator[str]:
    FakeGcs.objects, FakeGcs.media_reads = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGcs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_results_are_created_once_and_read_back(gcs: str) -> None:
    client = GcsObjects(gcs)
    assert not client.exists(bucket="out", key="scored/1.json")
    assert client.put_object(Bucket="out", Key="scored/1.json", Body=b"a", ContentType="x")
    assert not client.put_object(Bucket="out", Key="scored/1.json", Body=b"b", ContentType="x")
    assert client.exists(bucket="out", key="scored/1.json")
    assert FakeGcs.objects[("out", "scored/1.json")] == b"a"
    limits = RowLimits(max_object_bytes=10, max_rows=10)
    assert read_object(client, "out", "scored/1.json", limits=limits) == b"a"


def test_an_oversize_object_is_refused_from_its_metadata_before_its_body_is_read(gcs: str) -> None:
    FakeGcs.objects[("in", "incoming/big.jsonl")] = b"x" * 100
    with pytest.raises(PayloadTooLarge):
        read_object(GcsObjects(gcs), "in", "incoming/big.jsonl", limits=RowLimits(10, 10))
    assert FakeGcs.media_reads == []


def test_the_environment_picks_the_storage_host(gcs: str) -> None:
    clients = gcp_clients({"STORAGE_EMULATOR_HOST": gcs})
    assert isinstance(clients.objects, GcsObjects)
    assert clients.objects.base == f"http://{gcs}"
    assert not clients.objects.authorised
