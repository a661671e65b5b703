"""Pub/Sub push deliveries to a real runtime server: scored once, poison refused with a 4xx."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from modelstack_runtime import RuntimeServer, encode_json_request
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV
from modelstack_runtime.events.gcp_clients import DirectoryObjects
from tests.events.gcp.envelopes import push_body, record
from tests.runtime.httputil import Client
from tests.runtime.runtime_models import expected_linear

PATH = "/_events/pubsub/transactions"
ROW = [5.1, 3.5, 1.4, 0.2]


def _push(server: RuntimeServer, body: bytes, path: str = PATH) -> tuple[int, dict[str, str]]:
    client = Client(server.port)
    try:
        status, _, reply = client.request("POST", path, body, {"Content-Type": "application/json"})
    finally:
        client.close()
    return status, json.loads(reply)


def test_a_record_is_scored_and_its_result_stored_by_message_id(
    events_server: RuntimeServer, outputs: Path
) -> None:
    status, reply = _push(events_server, push_body(record(ROW), "42"))
    assert (status, reply) == (200, {"message_id": "42", "outcome": "scored"})
    result = json.loads((outputs / "42.json").read_text())
    assert result["model_name"] == "iris"
    assert result["id"] == "42"  # the result names the message it answers
    by_name = {o["name"]: o for o in result["outputs"]}
    probabilities, label = expected_linear(np.array([ROW], dtype=np.float32))
    assert by_name["label"]["data"] == label.tolist()
    assert np.allclose(by_name["probabilities"]["data"], probabilities.ravel(), atol=1e-5)


def test_a_v2_request_body_is_scored_too(events_server: RuntimeServer, outputs: Path) -> None:
    body = encode_json_request({"float_input": np.array([ROW, ROW], dtype=np.float32)})
    status, reply = _push(events_server, push_body(body, "v2-1"))
    assert (status, reply["outcome"]) == (200, "scored")
    result = json.loads((outputs / "v2-1.json").read_text())
    assert {o["name"]: o["shape"] for o in result["outputs"]}["probabilities"] == [2, 3]


def test_a_redelivery_is_acked_without_a_second_result(
    events_server: RuntimeServer, outputs: Path
) -> None:
    assert _push(events_server, push_body(record(ROW), "7"))[0] == 200
    stored = outputs / "7.json"
    first = stored.read_bytes()
    stored.write_bytes(first + b" ")  # a marker a second write would overwrite
    status, reply = _push(events_server, push_body(record([0.0, 0.0, 0.0, 9.0]), "7"))
    assert (status, reply["outcome"]) == (200, "duplicate")
    assert stored.read_bytes() == first + b" "
    assert sorted(p.name for p in stored.parent.iterdir()) == ["7.json"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"not json", "is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\xff\xfe", "not UTF-8"),
        (json.dumps({"petal": [1.0]}).encode(), "needs exactly the inputs float_input"),
        (record([1.0, 2.0]), "float_input"),
    ],
)
def test_poison_messages_answer_4xx_so_pubsub_dead_letters_them(
    events_server: RuntimeServer, outputs: Path, data: bytes, words: str
) -> None:
    status, reply = _push(events_server, push_body(data, "9"))
    assert status == 400
    assert words in reply["error"]
    assert not (outputs / "9.json").exists()


def test_bad_envelope_is_400(events_server: RuntimeServer) -> None:
    status, reply = _push(events_server, b'{"message": {"data": "eyJ9"}}')
    assert status == 400
    assert "message.messageId" in reply["error"]


def test_an_unknown_source_is_404_naming_the_configured_ones(events_server: RuntimeServer) -> None:
    status, reply = _push(events_server, push_body(record(ROW)), "/_events/pubsub/payments")
    assert status == 404
    assert "'payments'" in reply["error"]
    assert "transactions" in reply["error"]


def test_without_events_configured_the_route_is_404(
    events_server: RuntimeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(EVENTS_CONFIG_ENV)
    status, reply = _push(events_server, push_body(record(ROW)))
    assert status == 404
    assert EVENTS_CONFIG_ENV in reply["error"]


def test_source_names_outside_the_alphabet_are_404(events_server: RuntimeServer) -> None:
    status, _ = _push(events_server, push_body(record(ROW)), "/_events/pubsub/..%2Fetc")
    assert status == 404


def test_directory_objects_create_each_key_once(tmp_path: Path) -> None:
    store = DirectoryObjects(str(tmp_path / "out"))
    assert not store.exists(bucket="b", key="p/a.json")
    assert store.put_object(Bucket="b", Key="p/a.json", Body=b"1", ContentType="x") is True
    assert store.put_object(Bucket="b", Key="p/a.json", Body=b"2", ContentType="x") is False
    assert store.exists(bucket="b", key="p/a.json")
    assert (tmp_path / "out" / "b" / "p" / "a.json").read_bytes() == b"1"
    assert sorted(p.name for p in (tmp_path / "out" / "b" / "p").iterdir()) == ["a.json"]


@pytest.mark.parametrize("key", ["../x.json", "p/../../x.json", "/etc/x"])
def test_directory_objects_keep_keys_inside_the_bucket(tmp_path: Path, key: str) -> None:
    from modelstack_runtime.errors import ConfigError

    with pytest.raises(ConfigError, match="leaves bucket"):
        DirectoryObjects(str(tmp_path)).put_object(Bucket="b", Key=key, Body=b"", ContentType="x")
