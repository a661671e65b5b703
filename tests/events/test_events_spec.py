"""The `events:` section: the schema accepts the documented shape, parse_events types it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack.errors import ManifestError
from modelstack.events.spec import (
    BucketSpec,
    OutputSpec,
    QueueSpec,
    ScheduleSpec,
    parse_events,
    visibility_timeout,
)
from modelstack.manifest.validator import validate
from modelstack.resources import load_schema

EVENTS = """\
events:
  - name: transactions
    queue:
      batch_size: 10
      max_batching_window_s: 0
      max_concurrency: 2
      visibility_timeout_s: 180
      max_receive_count: 3
      ack_deadline_s: 60
      fifo: false
    output: {queue: results}
  - name: catalog
    bucket:
      bucket: my-images
      prefix: incoming/
      suffix: .jsonl
      max_object_bytes: 104857600
      rows_per_batch: 256
    output: {bucket: my-images, prefix: scored/}
  - name: nightly
    schedule:
      cron: "0 3 * * *"
      rescore: {bucket: my-images, prefix: incoming/}
    output: {bucket: my-images, prefix: rescored/}
"""
BASE: dict[str, Any] = {
    "apiVersion": "modelstack.dev/v1",
    "kind": "ModelService",
    "metadata": {"name": "tiny", "version": "1.0.0"},
    "model": {"path": "model.onnx", "sha256": "0" * 64},
    "targets": {"local": {"provider": "local"}},
}


def schema_messages(events: Any) -> list[str]:
    return [
        f"{'.'.join(map(str, i.path))}: {i.message}"
        for i in validate({**BASE, "events": events}, load_schema())
    ]


def test_the_documented_shape_is_valid_and_typed() -> None:
    raw = yaml.safe_load(EVENTS)["events"]
    assert schema_messages(raw) == []
    queue, bucket, schedule = parse_events(raw)
    assert (queue.name, queue.kind) == ("transactions", "queue")
    assert queue.queue == QueueSpec(visibility_timeout_s=180)
    assert queue.output == OutputSpec(queue="results")
    assert queue.output.kind == "queue"
    assert bucket.bucket == BucketSpec(bucket="my-images", prefix="incoming/")
    assert bucket.output == OutputSpec(bucket="my-images", prefix="scored/")
    assert bucket.output.kind == "bucket"
    assert schedule.schedule == ScheduleSpec("0 3 * * *", "my-images", "incoming/")
    assert (queue.bucket, queue.schedule, bucket.queue, schedule.queue) == (None,) * 4


def test_defaults_and_the_visibility_timeout() -> None:
    (source,) = parse_events([{"name": "q", "queue": {}, "output": {"queue": "r"}}])
    assert source.queue == QueueSpec()
    assert source.queue is not None
    assert visibility_timeout(source.queue, 30) == 180
    assert visibility_timeout(QueueSpec(visibility_timeout_s=45), 30) == 45
    assert parse_events(None) == ()


@pytest.mark.parametrize(
    ("entry", "schema_says", "parse_says"),
    [
        ({"name": "Bad", "queue": {}, "output": {"queue": "r"}}, "events.0.name", "name 'Bad'"),
        ({"name": "q", "output": {"queue": "r"}}, "give 'queue' or 'bucket' or 'schedule'",
         "exactly one of 'queue'"),
        ({"name": "q", "queue": {}, "bucket": {"bucket": "abc"}, "output": {"queue": "r"}},
         "give only one of", "exactly one of 'queue'"),
        ({"name": "q", "queue": {}, "output": {}}, "give 'queue' or 'bucket'",
         "output needs exactly one"),
        ({"name": "q", "bucket": {"bucket": "abc", "suffix": ".txt"}, "output": {"queue": "r"}},
         "events.0.bucket.suffix", "has no reader"),
        ({"name": "q", "queue": {"batch_size": "ten"}, "output": {"queue": "r"}},
         "events.0.queue.batch_size", "batch_size must be an integer"),
        ({"name": "q", "queue": {"fifo": 1}, "output": {"queue": "r"}},
         "events.0.queue.fifo", "fifo must be true or false"),
        ({"name": "q", "queue": {}, "output": {"queue": "r", "prefix": "x/"}},
         None, "prefix only applies to a bucket output"),
    ],
)  # fmt: skip
def test_bad_entries_are_named(
    entry: dict[str, Any], schema_says: str | None, parse_says: str
) -> None:
    messages = schema_messages([entry])
    if schema_says is None:
        assert messages == [] or any("prefix" in m for m in messages)
    else:
        assert any(schema_says in m for m in messages), messages
    with pytest.raises(ManifestError, match=r"events\[0\]") as info:
        parse_events([entry])
    assert parse_says in str(info.value)


def test_schema_bounds_name_the_field() -> None:
    messages = schema_messages(
        [{"name": "q", "queue": {"batch_size": 10001}, "output": {"queue": "r"}}]
    )
    assert messages == ["events.0.queue.batch_size: 10001 is too large; the maximum is 10000"]
    messages = schema_messages(
        [{"name": "q", "queue": {"ack_deadline_s": 5}, "output": {"queue": "r"}}]
    )
    assert messages == ["events.0.queue.ack_deadline_s: 5 is too small; the minimum is 10"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["name", "queue", "bucket", "schedule", "output", "prefix",
                                       "cron", "rescore", "suffix", "batch_size", "fifo"]),
                      inner, max_size=5),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_parse_events_only_ever_raises_manifest_errors(raw: Any) -> None:
    try:
        parse_events(raw)
    except ManifestError as exc:
        assert "events" in str(exc)


QUEUES = st.fixed_dictionaries(
    {},
    optional={
        "batch_size": st.integers(1, 10000),
        "max_batching_window_s": st.integers(0, 300),
        "max_concurrency": st.integers(2, 1000),
        "visibility_timeout_s": st.integers(0, 43200),
        "max_receive_count": st.integers(1, 1000),
        "ack_deadline_s": st.integers(10, 600),
        "fifo": st.booleans(),
    },
)


@settings(max_examples=100, deadline=None)
@given(QUEUES, st.from_regex(r"[a-z][a-z0-9-]{0,39}", fullmatch=True))
def test_every_schema_valid_queue_parses_to_its_values(queue: dict[str, Any], name: str) -> None:
    entry = {"name": name, "queue": queue, "output": {"bucket": "out-bucket", "prefix": "r/"}}
    assert schema_messages([entry]) == []
    (source,) = parse_events([entry])
    assert source.queue is not None
    assert source.name == name
    for key, value in queue.items():
        assert getattr(source.queue, key) == value
