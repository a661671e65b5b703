"""The local bucket watcher: real moto S3, the real Lambda handler and a real model."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
from event_model import expected
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.events import parse_events
from modelstack.providers.local.bucket_watcher import (
    MAX_ATTEMPTS,
    BucketWatcher,
    SeenSet,
    s3_event,
)
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV
from modelstack_runtime.lambda_handler import LambdaAdapter


def source(bucket: str) -> Any:
    (parsed,) = parse_events(
        [
            {
                "name": "catalog",
                "bucket": {"bucket": bucket, "prefix": "in/", "suffix": ".jsonl"},
                "output": {"bucket": bucket, "prefix": "in/scored/"},
            }
        ]
    )
    return parsed


class Recorder:
    """An `Invoke` that records each event and answers as told."""

    def __init__(self, answers: list[tuple[bytes, bool]] | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.answers = answers or []

    def __call__(self, payload: bytes) -> tuple[bytes, bool]:
        self.events.append(json.loads(payload))
        return self.answers.pop(0) if self.answers else (b'{"objects": [], "skipped": []}', False)

    def keys(self) -> list[str]:
        return [unquote_plus(e["Records"][0]["s3"]["object"]["key"]) for e in self.events]


def put(aws: Clients, bucket: str, key: str, body: bytes = b'{"x": [1, 2, 3]}\n') -> None:
    objects: Any = aws.objects
    objects.put_object(Bucket=bucket, Key=key, Body=body)


def test_each_new_object_is_invoked_once_and_a_restart_does_not_rescore(
    aws: Clients, bucket: str, tmp_path: Path
) -> None:
    for key in ("in/a.jsonl", "in/b c+d.jsonl", "in/skip.csv", "other/x.jsonl"):
        put(aws, bucket, key)
    put(aws, bucket, "in/scored/a.jsonl")  # a result under the input prefix is no input
    seen_path = tmp_path / "seen.json"
    invoke = Recorder()
    watcher = BucketWatcher(aws.objects, source(bucket), invoke, SeenSet.load(seen_path))
    assert watcher.scan_once() == 2
    assert invoke.keys() == ["in/a.jsonl", "in/b c+d.jsonl"]
    record = invoke.events[1]["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["eventSource"] == "aws:s3"
    assert record["s3"]["object"]["key"] == "in/b+c%2Bd.jsonl"  # as S3 encodes keys
    assert watcher.scan_once() == 0

    restarted = Recorder()
    again = BucketWatcher(aws.objects, source(bucket), restarted, SeenSet.load(seen_path))
    assert again.scan_once() == 0 and restarted.events == []
    put(aws, bucket, "in/a.jsonl", b'{"x": [3, 2, 1]}\n')  # overwritten: a new ETag
    assert again.scan_once() == 1 and restarted.keys() == ["in/a.jsonl"]


def test_a_failing_object_is_retried_then_given_up(
    aws: Clients, bucket: str, tmp_path: Path
) -> None:
    put(aws, bucket, "in/bad.jsonl")
    failures = [(b'{"errorMessage": "boom"}', True)] * MAX_ATTEMPTS
    invoke = Recorder(list(failures))
    watcher = BucketWatcher(aws.objects, source(bucket), invoke, SeenSet.load(tmp_path / "s"))
    for _ in range(MAX_ATTEMPTS + 2):
        watcher.scan_once()
    assert len(invoke.events) == MAX_ATTEMPTS  # not forever, and not fewer than its tries


def test_an_unreadable_seen_file_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "seen.json"
    path.write_text('{"seen": ["not", "a", "mapping"]}')
    assert SeenSet.load(path).entries == {}
    path.write_text("{half")
    fresh = SeenSet.load(path)
    fresh.add("k", '"e"')
    assert json.loads(path.read_text()) == {"seen": {"k": '"e"'}}
    assert SeenSet.load(path).seen("k", '"e"') and not SeenSet.load(path).seen("k", '"f"')


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_an_event_key_decodes_back_to_the_key(key: str) -> None:
    event = json.loads(s3_event("b", key, '"etag"', 1))
    assert unquote_plus(event["Records"][0]["s3"]["object"]["key"]) == key


def test_the_real_handler_scores_good_objects_and_skips_a_malformed_one(
    dataplane: DataPlane,
    aws: Clients,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import modelstack_runtime.events.clients as clients

    monkeypatch.setattr(clients, "_default", aws)
    output = {"bucket": bucket, "prefix": "in/scored/"}
    config = {"sources": [{"name": "catalog", "kind": "bucket", "bucket": bucket,
                           "prefix": "in/", "output": output}]}  # fmt: skip
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps(config))
    handler = LambdaAdapter(dataplane)

    def invoke(payload: bytes) -> tuple[bytes, bool]:
        return json.dumps(handler(json.loads(payload))).encode(), False

    put(aws, bucket, "in/good.jsonl", b'{"x": [1, 2, 3]}\n{"x": [0, 1, 0]}\n')
    put(aws, bucket, "in/broken.jsonl", b'{"x": [1, 2]}\n')
    watcher = BucketWatcher(aws.objects, source(bucket), invoke, SeenSet.load(tmp_path / "s"))
    with caplog.at_level("WARNING", logger="modelstack"):
        assert watcher.scan_once() == 2
    assert any("in/broken.jsonl skipped" in r.getMessage() for r in caplog.records)
    objects: Any = aws.objects
    body = objects.get_object(Bucket=bucket, Key="in/scored/good.jsonl")["Body"].read()
    rows = [json.loads(line) for line in body.splitlines()]
    assert [r["id"] for r in rows] == ["in/good.jsonl#0", "in/good.jsonl#1"]
    assert rows[0]["outputs"][0]["data"] == expected([[1, 2, 3]])
    listed = objects.list_objects_v2(Bucket=bucket, Prefix="in/scored/")["Contents"]
    assert [o["Key"] for o in listed] == ["in/scored/good.jsonl"]


def test_run_stops_on_its_event(aws: Clients, bucket: str, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    watcher = BucketWatcher(aws.objects, source(bucket), Recorder(), SeenSet.load(tmp_path / "s"))
    watcher.run(stop, 0.01)  # returns at once: bounded by its event
