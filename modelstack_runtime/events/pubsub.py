"""Pub/Sub push subscriptions: the push envelope, parsed and bounded, and its answer.

Pub/Sub POSTs one JSON envelope per message to a push endpoint::

    {"message": {"data": "<base64>", "attributes": {...}, "messageId": "1",
                 "publishTime": "..."},
     "subscription": "projects/P/subscriptions/S", "deliveryAttempt": 1}

A 2xx answer acks the message; any other answer nacks it, so Pub/Sub retries it and, after the
subscription's ``max_delivery_attempts``, moves it to the dead-letter topic. A message that can
never succeed (bad envelope, bad body, input the model refuses) answers 4xx with what is wrong;
a transient fault (the model still loading) answers 503. ``deliveryAttempt`` is only present
when the subscription has a dead-letter policy (and the emulator leaves it out).

Bounds are checked before anything is decoded: the envelope against ``max_bytes`` (the
runtime's ``max_request_bytes``, which also bounds ``data``: base64 decodes to 3/4 of its
length), the attributes against Pub/Sub's own limits.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final

from modelstack_runtime.errors import (
    BadRequest,
    ConfigError,
    InternalError,
    ModelNotFound,
    PayloadTooLarge,
)
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV, EventsConfig, SourceConfig
from modelstack_runtime.events.gcp_clients import GcpClients, gcp_clients
from modelstack_runtime.events.outputs import ResultWriter, result_key
from modelstack_runtime.events.sqs import score_message
from modelstack_runtime.json_limits import check_json_limits

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_ATTRIBUTE_KEY_BYTES",
    "MAX_ATTRIBUTE_VALUE_BYTES",
    "MESSAGE_ID_PATTERN",
    "PushMessage",
    "answer_push",
    "parse_push",
    "push_action",
]

MAX_ATTRIBUTES: Final = 100
"""Pub/Sub's limit on attributes per message."""
MAX_ATTRIBUTE_KEY_BYTES: Final = 256
MAX_ATTRIBUTE_VALUE_BYTES: Final = 1024
_ENVELOPE_MAX_VALUES: Final = 4 * MAX_ATTRIBUTES + 64
MESSAGE_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Message ids key the outputs (``<prefix><message_id>.json``): no separators, no dots first."""
_SUBSCRIPTION: Final = re.compile(r"projects/[^/\s]{1,100}/subscriptions/[^/\s]{1,255}")


@dataclasses.dataclass(frozen=True)
class PushMessage:
    """One pushed message, checked."""

    message_id: str
    data: bytes
    attributes: Mapping[str, str]
    subscription: str
    delivery_attempt: int | None = None
    publish_time: str | None = None


def parse_push(body: bytes, *, max_bytes: int) -> PushMessage:
    """Parse a push envelope; :class:`BadRequest` or :class:`PayloadTooLarge` names the fault."""
    if len(body) > max_bytes:
        raise PayloadTooLarge(
            f"push envelope of {len(body)} bytes exceeds the limit of {max_bytes} "
            "(the runtime setting max_request_bytes raises it)"
        )
    check_json_limits(body, max(_ENVELOPE_MAX_VALUES, 1), "push envelope")
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"push envelope is not valid JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise BadRequest("push envelope must be a JSON object with 'message' and 'subscription'")
    message = envelope.get("message")
    if not isinstance(message, dict):
        raise BadRequest("push envelope needs a 'message' object")
    return PushMessage(
        message_id=_message_id(message),
        data=_data(message.get("data")),
        attributes=_attributes(message.get("attributes")),
        subscription=_subscription(envelope.get("subscription")),
        delivery_attempt=_delivery_attempt(envelope.get("deliveryAttempt")),
        publish_time=_optional_str(message, "publishTime", "publish_time"),
    )


def _message_id(message: Mapping[str, Any]) -> str:
    value = message.get("messageId", message.get("message_id"))
    if not isinstance(value, str) or not MESSAGE_ID_PATTERN.fullmatch(value):
        raise BadRequest(
            f"message.messageId must be 1-128 characters of letters, digits, '.', '_' or '-' "
            f"(starting with a letter or digit), got {_short(value)}"
        )
    return value


def _data(value: Any) -> bytes:
    if value is None or value == "":
        raise BadRequest("message.data is empty: the body must be a v2 request or a record")
    if not isinstance(value, str):
        raise BadRequest(f"message.data must be a base64 string, got {_short(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("message.data is not valid base64") from None


def _attributes(value: Any) -> Mapping[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"message.attributes must be an object, got {_short(value)}")
    if len(value) > MAX_ATTRIBUTES:
        raise BadRequest(f"message.attributes has {len(value)} entries; at most {MAX_ATTRIBUTES}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise BadRequest(f"message.attributes[{key!r}] must be a string, got {_short(item)}")
        if len(key.encode()) > MAX_ATTRIBUTE_KEY_BYTES or not key:
            raise BadRequest(
                f"message.attributes key {_short(key)} must be 1-{MAX_ATTRIBUTE_KEY_BYTES} bytes"
            )
        if len(item.encode()) > MAX_ATTRIBUTE_VALUE_BYTES:
            raise BadRequest(
                f"message.attributes[{key!r}] is longer than {MAX_ATTRIBUTE_VALUE_BYTES} bytes"
            )
    return dict(value)


def _subscription(value: Any) -> str:
    if not isinstance(value, str) or not _SUBSCRIPTION.fullmatch(value):
        raise BadRequest(
            "push envelope 'subscription' must be 'projects/PROJECT/subscriptions/NAME', "
            f"got {_short(value)}"
        )
    return value


def _delivery_attempt(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 1:
        raise BadRequest(f"push envelope 'deliveryAttempt' must be an integer >= 1, got {value!r}")
    return value


def _optional_str(message: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = message.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise BadRequest(f"message.{key} must be a string, got {_short(value)}")
            return value
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --- answering a push -----------------------------------------------------------------------


def answer_push(
    dp: DataPlane, source_name: str, body: bytes, *, config: EventsConfig, clients: GcpClients
) -> tuple[HTTPStatus, bytes, dict[str, str]]:
    """Score one pushed message and write its result; the reply Pub/Sub acks or retries.

    A message whose result object already exists is acked without scoring it again, so a
    redelivery (at-least-once) never produces a second result. A results topic cannot be
    asked: its consumers deduplicate on the ``source_message_id`` attribute.
    """
    source = _queue_source(config, source_name)
    message = parse_push(body, max_bytes=dp.config.max_request_bytes)
    writer = ResultWriter(source.output, objects=clients.objects, queues=clients.topics)
    target = source.output
    key = result_key(target.prefix, message.message_id)
    objects = clients.objects
    if target.kind == "bucket" and objects and objects.exists(bucket=target.bucket, key=key):
        return _acked(message, "duplicate")
    try:
        text = message.data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"message {message.message_id}: data is not UTF-8 JSON") from None
    result = score_message(dp, text, message_id=message.message_id)
    try:
        writer.message_result(message.message_id, result)
    except (ConfigError, OSError) as exc:
        raise InternalError(
            f"the result of message {message.message_id} was not written: {exc}"
        ) from exc
    return _acked(message, "scored")


def _queue_source(config: EventsConfig, name: str) -> SourceConfig:
    for source in config.sources:
        if source.name == name and source.kind == "queue":
            return source
    known = [s.name for s in config.sources if s.kind == "queue"] or "none"
    raise ModelNotFound(
        f"no queue event source {name!r} here (configured in {EVENTS_CONFIG_ENV}: {known})"
    )


def _acked(message: PushMessage, outcome: str) -> tuple[HTTPStatus, bytes, dict[str, str]]:
    body = json.dumps({"message_id": message.message_id, "outcome": outcome}).encode()
    return HTTPStatus.OK, body, {"Content-Type": "application/json"}


def push_action(
    dp: DataPlane, params: Mapping[str, str], headers: Mapping[str, str], body: bytes
) -> tuple[HTTPStatus, bytes, dict[str, str]]:
    """``POST /_events/pubsub/<source>``: one push delivery."""
    try:
        config = EventsConfig.from_env()
    except ConfigError as exc:
        raise InternalError(str(exc)) from None
    return answer_push(dp, params["source"], body, config=config, clients=gcp_clients())
