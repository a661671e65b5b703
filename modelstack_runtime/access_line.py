"""The access log line of one request, written from a template instead of a dict.

The line is the compact JSON of ``{"event": "infer", "request_id", "model", "model_version",
"status", "outcome", "latency_ms", "input_bytes"[, "error"][, "_aws"]}``, in that order; only
the strings that can vary are escaped by the JSON encoder, so a line costs a few string joins.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["access_line", "json_string"]

_ENCODER: Final = json.JSONEncoder(separators=(",", ":"))
_encode: Final = _ENCODER.encode


def json_string(text: str) -> str:
    """``text`` as a JSON string literal (plain ASCII letters and digits need no escaping)."""
    if text.isascii() and text.isalnum():
        return f'"{text}"'
    return _encode(text)


def access_line(
    *,
    request_id: str,
    model: str,
    model_version: str,
    status: int,
    latency_ms: float,
    input_bytes: int | None,
    error: str | None = None,
    aws: dict[str, Any] | None = None,
    fields: str | None = None,
) -> str:
    """The JSON line; ``model`` and ``model_version`` are already JSON string literals.

    ``fields`` are further members, already JSON (``"name":value`` pairs joined by commas).

    ``latency_ms`` must be finite (it is a measured duration).
    """
    outcome = "ok" if error is None else ("client_error" if status < 500 else "error")
    nbytes = "null" if input_bytes is None else input_bytes
    line = (
        f'{{"event":"infer","request_id":{json_string(request_id)},"model":{model},'
        f'"model_version":{model_version},"status":{status},"outcome":"{outcome}",'
        f'"latency_ms":{latency_ms!r},"input_bytes":{nbytes}'
    )
    if error is not None:
        line += f',"error":{json_string(error)}'
    if fields:
        line += "," + fields
    if aws is not None:
        line += f',"_aws":{_encode(aws)}'
    return line + "}"
