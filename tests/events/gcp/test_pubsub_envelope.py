"""The push envelope parser: what it accepts, and a clear 4xx for everything else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelstack_runtime.errors import BadRequest, InferenceError, PayloadTooLarge
from modelstack_runtime.events.pubsub import MAX_ATTRIBUTES, parse_push
from tests.events.gcp.envelopes import SUBSCRIPTION, envelope, push_body

LIMIT = 1 << 16


def test_parses_what_pubsub_sends() -> None:
    message = parse_push(push_body(b'{"x": 1}', deliveryAttempt=3), max_bytes=LIMIT)
    assert message.message_id == "1001"
    assert message.data == b'{"x": 1}'
    assert message.attributes == {"origin": "test"}
    assert message.subscription == SUBSCRIPTION
    assert message.delivery_attempt == 3
    assert message.publish_time == "2026-12-01T23:21:33.491Z"


def test_emulator_envelope_without_delivery_attempt_and_snake_case_ids() -> None:
    body = envelope(b"{}")
    body["message"] = {"data": body["message"]["data"], "message_id": "7", "attributes": {}}
    message = parse_push(json.dumps(body).encode(), max_bytes=LIMIT)
    assert (message.message_id, message.delivery_attempt, message.attributes) == ("7", None, {})


def _mutated(path: tuple[str, ...], value: Any) -> bytes:
    body = envelope(b'{"x": 1}')
    node = body
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return json.dumps(body).encode()


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "words"),
    [
        (("message",), _DELETE, "needs a 'message' object"),
        (("message",), "text", "needs a 'message' object"),
        (
            ("subscription",),
            _DELETE,
            "'subscription' must be 'projects/PROJECT/subscriptions/NAME'",
        ),
        (("subscription",), "projects/p/topics/t", "'subscription' must be"),
        (("message", "messageId"), _DELETE, "message.messageId must be"),
        (("message", "messageId"), "../../etc/passwd", "message.messageId must be"),
        (("message", "messageId"), 12, "message.messageId must be"),
        (("message", "messageId"), "x" * 129, "message.messageId must be"),
        (("message", "data"), _DELETE, "message.data is empty"),
        (("message", "data"), 5, "message.data must be a base64 string"),
        (("message", "data"), "not base64!", "message.data is not valid base64"),
        (("message", "attributes"), [], "message.attributes must be an object"),
        (("message", "attributes"), {"k": 1}, "message.attributes['k'] must be a string"),
        (("message", "attributes"), {"k": "v" * 1025}, "longer than 1024 bytes"),
        (("message", "attributes"), {"k" * 257: "v"}, "must be 1-256 bytes"),
        (("message", "publishTime"), 5, "message.publishTime must be a string"),
        (("deliveryAttempt",), 0, "'deliveryAttempt' must be an integer >= 1"),
        (("deliveryAttempt",), "2", "'deliveryAttempt' must be an integer >= 1"),
    ],
)
def test_bad_envelopes_are_400_naming_the_field(
    path: tuple[str, ...], value: Any, words: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_push(_mutated(path, value), max_bytes=LIMIT)
    assert words in caught.value.message
    assert caught.value.status == 400


def test_too_many_attributes() -> None:
    attributes = {f"k{i}": "v" for i in range(MAX_ATTRIBUTES + 1)}
    with pytest.raises(BadRequest, match=f"at most {MAX_ATTRIBUTES}"):
        parse_push(_mutated(("message", "attributes"), attributes), max_bytes=LIMIT)


@pytest.mark.parametrize("body", [b"", b"[]", b"{", b"\xff\xfe", b'"text"', b"null"])
def test_not_an_object(body: bytes) -> None:
    with pytest.raises(BadRequest, match="push envelope"):
        parse_push(body, max_bytes=LIMIT)


def test_envelope_over_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge, match="max_request_bytes"):
        parse_push(b"{" + b" " * LIMIT + b"}", max_bytes=LIMIT)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=512))
def test_arbitrary_bytes_never_escape_as_anything_but_a_4xx(body: bytes) -> None:
    try:
        parse_push(body, max_bytes=LIMIT)
    except InferenceError as exc:
        assert 400 <= exc.status < 500


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    message=st.dictionaries(
        st.sampled_from(["data", "messageId", "attributes", "publishTime"]), _json
    ),
    attempt=_json,
)
def test_arbitrary_envelope_fields_never_escape_as_anything_but_a_4xx(
    message: dict[str, Any], attempt: Any
) -> None:
    body = json.dumps(
        {"message": message, "subscription": SUBSCRIPTION, "deliveryAttempt": attempt}
    )
    try:
        parse_push(body.encode(), max_bytes=LIMIT)
    except InferenceError as exc:
        assert 400 <= exc.status < 500


@settings(max_examples=100, deadline=None)
@given(
    data=st.binary(min_size=1, max_size=256),
    message_id=st.from_regex(r"[0-9A-Za-z][0-9A-Za-z._-]{0,20}", fullmatch=True),
    attributes=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=30), max_size=5),
)
def test_valid_envelopes_round_trip(
    data: bytes, message_id: str, attributes: dict[str, str]
) -> None:
    body = envelope(data, message_id)
    body["message"]["attributes"] = attributes
    message = parse_push(json.dumps(body).encode(), max_bytes=LIMIT)
    assert (message.data, message.message_id, dict(message.attributes)) == (
        data,
        message_id,
        attributes,
    )
