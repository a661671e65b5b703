"""Eventarc finalized events: both CloudEvent modes, the object scored to .jsonl, bad events 400."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack_runtime import RuntimeServer
from modelstack_runtime.errors import BadRequest, InferenceError
from modelstack_runtime.events.eventarc import FINALIZED, parse_cloud_event
from tests.runtime.httputil import Client
from tests.runtime.runtime_models import expected_linear

PATH = "/_events/eventarc/catalog"
ROWS = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [0.0, 0.0, 0.0, 9.0]]


def _data(name: str = "incoming/batch.jsonl", bucket: str = "images-bucket") -> dict[str, Any]:
    return {"bucket": bucket, "name": name, "size": "120", "generation": "1733"}


def _binary(data: dict[str, Any], **headers: str) -> tuple[dict[str, str], bytes]:
    base = {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-type": FINALIZED,
        "ce-id": "evt-1",
        "ce-source": "//storage.googleapis.com/projects/_/buckets/images-bucket",
    }
    return {**base, **headers}, json.dumps(data).encode()


def _structured(data: Any, **attributes: Any) -> tuple[dict[str, str], bytes]:
    event = {"specversion": "1.0", "type": FINALIZED, "id": "evt-2", "data": data, **attributes}
    return {"content-type": "application/cloudevents+json"}, json.dumps(event).encode()


def test_binary_mode() -> None:
    obj = parse_cloud_event(*_binary(_data()))
    assert (obj.event_id, obj.bucket, obj.name, obj.size, obj.generation) == (
        "evt-1", "images-bucket", "incoming/batch.jsonl", 120, "1733",
    )  # fmt: skip


def test_structured_mode() -> None:
    obj = parse_cloud_event(*_structured(_data("incoming/a.csv")))
    assert (obj.event_id, obj.name) == ("evt-2", "incoming/a.csv")


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (_binary(_data(), **{"ce-type": "google.cloud.storage.object.v1.deleted"}), "type must be"),
        (_binary(_data(), **{"ce-specversion": "0.3"}), "specversion must be '1.0'"),
        (_binary(_data(), **{"ce-id": ""}), "id must be a string"),
        (({"content-type": "application/json"}, b"{}"), "not a CloudEvent"),
        (_binary({"bucket": "b", "name": "x"}), "data.bucket must be a bucket name"),
        (_binary({"bucket": "images-bucket"}), "data.name must be an object name"),
        (_binary({**_data(), "size": "-1"}), "data.size must be a byte count"),
        (_structured([1, 2]), "data must be the object's metadata"),
        (({"content-type": "application/cloudevents+json"}, b"[]"), "must be a JSON object"),
        (({"content-type": "application/cloudevents+json"}, b"{"), "not valid JSON"),
    ],
)
def test_bad_events_are_400_naming_the_fault(
    event: tuple[dict[str, str], bytes], words: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_cloud_event(*event)
    assert words in caught.value.message


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=300),
    structured=st.booleans(),
    ce_type=st.sampled_from([FINALIZED, "x", ""]),
)
def test_arbitrary_events_never_escape_as_anything_but_a_4xx(
    body: bytes, structured: bool, ce_type: str
) -> None:
    headers = (
        {"content-type": "application/cloudevents+json"}
        if structured
        else {"ce-type": ce_type, "ce-specversion": "1.0", "ce-id": "1"}
    )
    try:
        parse_cloud_event(headers, body)
    except InferenceError as exc:
        assert 400 <= exc.status < 500


def _post(server: RuntimeServer, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    client = Client(server.port)
    try:
        status, _, reply = client.request("POST", PATH, body, headers)
    finally:
        client.close()
    return status, json.loads(reply)


def _put(buckets: Path, name: str, text: str) -> None:
    path = buckets / "images-bucket" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_finalized_object_is_scored_to_jsonl_under_the_output_prefix(
    events_server: RuntimeServer, buckets: Path
) -> None:
    _put(
        buckets,
        "incoming/batch.jsonl",
        "".join(json.dumps({"float_input": r}) + "\n" for r in ROWS),
    )
    status, reply = _post(events_server, *_binary(_data()))
    assert (status, reply["outcome"], reply["rows"]) == (200, "scored", 3)
    lines = (buckets / "results-bucket" / "scored" / "batch.jsonl").read_text().splitlines()
    results = [json.loads(line) for line in lines]
    _, labels = expected_linear(np.array(ROWS, dtype=np.float32))
    assert [{o["name"]: o["data"] for o in r["outputs"]}["label"] for r in results] == [
        [int(label)] for label in labels
    ]
    assert [r["id"] for r in results] == [f"incoming/batch.jsonl#{i}" for i in range(3)]


def test_a_malformed_object_is_acked_as_skipped_and_writes_nothing(
    events_server: RuntimeServer, buckets: Path
) -> None:
    _put(buckets, "incoming/bad.jsonl", "{not json\n")
    status, reply = _post(events_server, *_binary(_data("incoming/bad.jsonl")))
    assert (status, reply["outcome"]) == (200, "skipped")
    assert not (buckets / "results-bucket").exists()


def test_an_object_outside_the_prefix_is_ignored(
    events_server: RuntimeServer, buckets: Path
) -> None:
    status, reply = _post(events_server, *_binary(_data("elsewhere/a.jsonl")))
    assert (status, reply["outcome"]) == (200, "ignored")


def test_a_missing_object_is_a_fault_so_eventarc_retries(
    events_server: RuntimeServer, buckets: Path
) -> None:
    status, reply = _post(events_server, *_binary(_data("incoming/gone.jsonl")))
    assert status == 500
    assert "could not be read" in reply["error"]


def test_a_bad_event_is_400_over_http(events_server: RuntimeServer, buckets: Path) -> None:
    status, reply = _post(events_server, {"content-type": "application/json"}, b"{}")
    assert status == 400
    assert "not a CloudEvent" in reply["error"]
