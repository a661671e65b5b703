"""The Cloud Scheduler job's ``POST /_events/schedule/<source>`` on a real runtime server:
the prefix rescored through the folder buckets and through the Cloud Storage JSON API client
against a fake of that API on loopback (the cloud itself cannot be reached from tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modelstack_runtime import RuntimeServer
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV
from modelstack_runtime.events.gcp_clients import OBJECT_DIR_ENV, STORAGE_EMULATOR_ENV, GcsObjects
from modelstack_runtime.events.schedule import listed_keys
from tests.events.gcp.fake_gcs import FakeGcs, running_fake_gcs
from tests.runtime.httputil import Client
from tests.runtime.runtime_models import expected_linear

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3]]
NIGHTLY = {
    "name": "nightly",
    "kind": "schedule",
    "bucket": "images-bucket",
    "prefix": "incoming/",
    "output": {"bucket": "results-bucket", "prefix": "rescored/"},
}


@pytest.fixture
def nightly(buckets: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps({"sources": [NIGHTLY]}))
    return buckets


def rows_text(rows: list[list[float]]) -> str:
    return "".join(json.dumps({"float_input": r}) + "\n" for r in rows)


def post(server: RuntimeServer, path: str, body: bytes = b"") -> tuple[int, Any]:
    client = Client(server.port)
    try:
        status, _, reply = client.request("POST", path, body, {})
    finally:
        client.close()
    return status, json.loads(reply)


def put(buckets: Path, bucket: str, key: str, text: str) -> None:
    path = buckets / bucket / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def labels(text: str) -> list[list[int]]:
    results = [json.loads(line) for line in text.splitlines()]
    return [{o["name"]: o["data"] for o in r["outputs"]}["label"] for r in results]


def test_the_job_s_post_rescores_the_prefix_under_the_output_prefix(
    events_server: RuntimeServer, nightly: Path
) -> None:
    put(nightly, "images-bucket", "incoming/a.jsonl", rows_text(ROWS))
    put(nightly, "images-bucket", "incoming/sub/b.jsonl", rows_text(ROWS[:1]))
    put(nightly, "images-bucket", "incoming/readme.txt", "not rows")
    status, reply = post(events_server, "/_events/schedule/nightly")
    assert status == 200
    assert [(o["key"], o["rows"]) for o in reply["objects"]] == [
        ("incoming/a.jsonl", 2),
        ("incoming/sub/b.jsonl", 1),
    ]
    out = nightly / "results-bucket" / "rescored"
    _, expected = expected_linear(np.array(ROWS, dtype=np.float32))
    assert labels((out / "a.jsonl").read_text()) == [[int(v)] for v in expected]
    assert labels((out / "sub" / "b.jsonl").read_text()) == [[int(expected[0])]]


def test_a_second_run_keeps_the_results_a_create_only_store_holds(
    events_server: RuntimeServer, nightly: Path
) -> None:
    put(nightly, "images-bucket", "incoming/a.jsonl", rows_text(ROWS))
    assert post(events_server, "/_events/schedule/nightly")[1]["objects"][0]["written"] is True
    status, reply = post(events_server, "/_events/schedule/nightly", b"{}")
    assert (status, reply["objects"][0]["written"]) == (200, False)


def test_a_malformed_object_is_skipped_and_the_run_answers_200(
    events_server: RuntimeServer, nightly: Path
) -> None:
    put(nightly, "images-bucket", "incoming/bad.jsonl", "{not json\n")
    status, reply = post(events_server, "/_events/schedule/nightly")
    assert (status, reply["objects"]) == (200, [])
    assert "line 1" in reply["skipped"][0]["error"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/_events/schedule/weekly", b"", 404, "no schedule event source 'weekly'"),
        ("/_events/schedule/nightly", b"[1]", 400, "empty or a JSON object"),
        ("/_events/schedule/nightly", b"\xff{", 400, "empty or a JSON object"),
        ("/_events/schedule/nightly", b" " * 70_000, 413, "at most 65536"),
    ],
)
def test_a_bad_request_is_4xx_naming_the_fault(
    events_server: RuntimeServer, nightly: Path, path: str, body: bytes, status: int, words: str
) -> None:
    got, reply = post(events_server, path, body)
    assert got == status
    assert words in reply["error"]


def test_a_write_that_fails_is_a_500_so_the_scheduler_retries(
    events_server: RuntimeServer, nightly: Path
) -> None:
    put(nightly, "images-bucket", "incoming/a.jsonl", rows_text(ROWS))
    (nightly / "results-bucket").write_text("a file where the output bucket's folder goes")
    status, reply = post(events_server, "/_events/schedule/nightly")
    assert status == 500
    assert "will be retried" in reply["error"]


@pytest.fixture
def gcs() -> Iterator[str]:
    with running_fake_gcs() as address:
        yield address


def test_cloud_storage_listings_are_read_page_by_page(gcs: str) -> None:
    for i in range(5):
        FakeGcs.objects["in", f"incoming/{i}.npz"] = b""
    FakeGcs.objects["in", "other/x.npz"] = b""
    client = GcsObjects(gcs)
    first = client.list_objects_v2(Bucket="in", Prefix="incoming/", MaxKeys=2)
    assert first["IsTruncated"] and [o["Key"] for o in first["Contents"]] == [
        "incoming/0.npz",
        "incoming/1.npz",
    ]
    keys = listed_keys(client, "in", "incoming/")
    assert keys == [f"incoming/{i}.npz" for i in range(5)]


def test_the_route_rescores_through_the_cloud_storage_client(
    events_server: RuntimeServer, nightly: Path, gcs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(OBJECT_DIR_ENV)
    monkeypatch.setenv(STORAGE_EMULATOR_ENV, gcs)
    FakeGcs.objects["images-bucket", "incoming/a.jsonl"] = rows_text(ROWS).encode()
    status, reply = post(events_server, "/_events/schedule/nightly")
    assert (status, reply["objects"][0]["output"]) == (200, "rescored/a.jsonl")
    written = FakeGcs.objects["results-bucket", "rescored/a.jsonl"].decode()
    _, expected = expected_linear(np.array(ROWS, dtype=np.float32))
    assert labels(written) == [[int(v)] for v in expected]
    assert FakeGcs.list_calls[0]["prefix"] == ["incoming/"]
