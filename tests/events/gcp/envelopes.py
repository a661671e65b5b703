"""Pub/Sub push envelopes as Pub/Sub (and its emulator) send them."""

from __future__ import annotations

import base64
import json
from typing import Any

SUBSCRIPTION = "projects/p/subscriptions/digits-prod-transactions-push"


def envelope(data: bytes, message_id: str = "1001", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "data": base64.b64encode(data).decode(),
        "attributes": {"origin": "test"},
        "messageId": message_id,
        "publishTime": "2026-12-01T23:21:33.491Z",
    }
    body: dict[str, Any] = {"message": message, "subscription": SUBSCRIPTION}
    body.update(extra)
    return body


def push_body(data: bytes, message_id: str = "1001", **extra: Any) -> bytes:
    return json.dumps(envelope(data, message_id, **extra)).encode()


def record(row: list[float]) -> bytes:
    return json.dumps({"float_input": row}).encode()
