"""A schedule's run on Lambda: the EventBridge Scheduler input rescores the prefix through
the real handler, against a real moto S3 and a real onnxruntime model."""

from __future__ import annotations

import json
from typing import Any

import pytest
from event_model import expected

from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import InternalError, ModelNotFound
from modelstack_runtime.events import batch_event_kind, handle_batch_event, schedule
from modelstack_runtime.events.clients import Clients
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV, EventsConfig
from modelstack_runtime.lambda_handler import LambdaAdapter


def sources(bucket: str) -> dict[str, Any]:
    """The entry `up` writes for a schedule source (see the aws-lambda provider)."""
    return {
        "sources": [
            {
                "name": "nightly",
                "kind": "schedule",
                "bucket": bucket,
                "prefix": "incoming/",
                "output": {"bucket": bucket, "prefix": "rescored/"},
            }
        ]
    }


def put(aws: Clients, bucket: str, key: str, body: bytes) -> None:
    objects: Any = aws.objects
    objects.put_object(Bucket=bucket, Key=key, Body=body)


def keys(aws: Clients, bucket: str, prefix: str) -> list[str]:
    objects: Any = aws.objects
    listed = objects.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"] for o in listed)


def rows(n: int, start: int = 0) -> bytes:
    return "".join(json.dumps({"x": [start + i, 1.0, 0.0]}) + "\n" for i in range(n)).encode()


def test_what_the_scheduler_sends_is_recognised_as_a_rescore() -> None:
    # The input the aws-lambda provider gives its EventBridge Scheduler schedule.
    assert batch_event_kind({"modelstack_rescore": {"source": "nightly"}}) == "rescore"


def test_the_scheduler_input_rescores_every_object_under_the_prefix_in_pages(
    dataplane: DataPlane,
    aws: Clients,
    bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import modelstack_runtime.events.clients as clients

    monkeypatch.setattr(schedule, "RESCORE_PAGE_KEYS", 2)  # five objects: three pages
    monkeypatch.setattr(clients, "_default", aws)
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps(sources(bucket)))
    for i in range(4):
        put(aws, bucket, f"incoming/day/{i}.jsonl", rows(3, start=10 * i))
    put(aws, bucket, "incoming/notes.txt", b"not rows")
    put(aws, bucket, "elsewhere/x.jsonl", rows(1))
    answer = LambdaAdapter(dataplane)({"modelstack_rescore": {"source": "nightly"}})
    assert [o["key"] for o in answer["objects"]] == [f"incoming/day/{i}.jsonl" for i in range(4)]
    assert answer["skipped"] == []
    assert keys(aws, bucket, "rescored/") == [f"rescored/day/{i}.jsonl" for i in range(4)]
    objects: Any = aws.objects
    text = objects.get_object(Bucket=bucket, Key="rescored/day/2.jsonl")["Body"].read()
    results = [json.loads(line) for line in text.splitlines()]
    assert [r["outputs"][0]["data"] for r in results] == [
        expected([[20 + i, 1.0, 0.0]]) for i in range(3)
    ]


def test_a_malformed_object_is_skipped_and_the_others_are_rescored(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    put(aws, bucket, "incoming/a.jsonl", rows(2))
    put(aws, bucket, "incoming/b.jsonl", b'{"x": "oops"}\n')
    config = EventsConfig.from_dict(sources(bucket))
    event = {"modelstack_rescore": {"source": "nightly"}}
    answer = handle_batch_event(dataplane, event, config=config, clients=aws)
    assert [o["key"] for o in answer["objects"]] == ["incoming/a.jsonl"]
    assert [s["key"] for s in answer["skipped"]] == ["incoming/b.jsonl"]
    assert keys(aws, bucket, "rescored/") == ["rescored/a.jsonl"]


def test_a_run_that_could_not_write_raises_so_the_scheduler_retries(
    dataplane: DataPlane, aws: Clients, bucket: str
) -> None:
    put(aws, bucket, "incoming/a.jsonl", rows(2))
    raw = sources(bucket)
    raw["sources"][0]["output"] = {"bucket": "no-such-bucket-here", "prefix": "r/"}
    event = {"modelstack_rescore": {"source": "nightly"}}
    with pytest.raises(InternalError, match="will be retried"):
        handle_batch_event(dataplane, event, config=EventsConfig.from_dict(raw), clients=aws)


def test_an_unknown_source_is_named(dataplane: DataPlane, aws: Clients, bucket: str) -> None:
    event = {"modelstack_rescore": {"source": "weekly"}}
    with pytest.raises(ModelNotFound, match=r"no schedule event source 'weekly'.*nightly"):
        handle_batch_event(
            dataplane, event, config=EventsConfig.from_dict(sources(bucket)), clients=aws
        )


def test_the_listing_is_bounded_in_pages_and_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEndlessListing:
        """A listing that never ends (every page truncated): the run must still stop."""

        def __init__(self) -> None:
            self.pages = 0

        def list_objects_v2(self, **kwargs: Any) -> dict[str, Any]:
            self.pages += 1
            assert kwargs["MaxKeys"] == schedule.RESCORE_PAGE_KEYS
            contents = [{"Key": f"p/{self.pages}-{i}.npz"} for i in range(3)]
            return {"Contents": contents, "IsTruncated": True, "NextContinuationToken": "t"}

    monkeypatch.setattr(schedule, "MAX_RESCORE_OBJECTS", 7)
    listing = FakeEndlessListing()
    assert len(schedule.listed_keys(listing, "b", "p/")) == 7
    assert listing.pages == 3
    monkeypatch.setattr(schedule, "MAX_RESCORE_OBJECTS", 10**6)
    listing = FakeEndlessListing()
    assert len(schedule.listed_keys(listing, "b", "p/")) == 3 * schedule.MAX_RESCORE_PAGES
    assert listing.pages == schedule.MAX_RESCORE_PAGES
