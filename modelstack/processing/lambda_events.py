"""Raw bytes (an encoded image) to a Lambda function: a function-URL event with a binary body.

A direct invocation carries the v2 request as JSON, which cannot hold bytes that are not
UTF-8; the runtime's Lambda handler also takes function-URL events, whose body may be base64,
so smoke tests send those requests as one with the binary tensor data extension.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelstack.smoke.clients import InferenceFailed
from modelstack_runtime.codec import HEADER_LENGTH_HEADER, decode_response, encode_binary_request

__all__ = ["binary_invocation", "binary_reply"]


def binary_invocation(model_name: str, inputs: Mapping[str, np.ndarray]) -> bytes:
    """The invocation payload: a function-URL (version 2.0) event posting a binary request."""
    body, length = encode_binary_request(inputs, binary_outputs=False)
    path = f"/v2/models/{model_name}/infer"
    event = {
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/octet-stream",
            HEADER_LENGTH_HEADER.lower(): str(length),
        },
        "requestContext": {"http": {"method": "POST", "path": path}},
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
    return json.dumps(event).encode()


def binary_reply(payload: bytes) -> dict[str, np.ndarray]:
    """The outputs of the function's answer to `binary_invocation`, or InferenceFailed."""
    try:
        reply: Any = json.loads(payload)
        status = reply["statusCode"]
        raw = reply.get("body", "")
        body = base64.b64decode(raw) if reply.get("isBase64Encoded") else str(raw).encode()
        headers = {str(k).lower(): v for k, v in dict(reply.get("headers") or {}).items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InferenceFailed(f"unreadable answer from the function: {exc!r}") from None
    if status != 200:
        raise InferenceFailed(f"{status} {body[:500].decode('utf-8', errors='replace')}")
    length = headers.get(HEADER_LENGTH_HEADER.lower())
    try:
        return decode_response(body, int(length) if length else None)
    except Exception as exc:  # the runtime codec raises its own error types
        raise InferenceFailed(f"unreadable response from the function: {exc}") from None
