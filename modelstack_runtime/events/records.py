"""A message body as a v2 inference request: a request as it is, or a record
``{"input_name": value, ...}`` (one row) turned into one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from modelstack_runtime.errors import BadRequest
from modelstack_runtime.signature import Signature

__all__ = ["record_request", "request_of"]


def request_of(parsed: Any, *, message_id: str, signature: Signature) -> dict[str, Any]:
    """A v2 request as it is, or a record turned into one (each value is one row)."""
    if not isinstance(parsed, dict):
        raise BadRequest(f"message {message_id} must be a JSON object")
    if "inputs" in parsed:
        return {"id": message_id, **parsed}
    return record_request(parsed, message_id=message_id, signature=signature)


def record_request(
    record: Mapping[str, Any], *, message_id: str, signature: Signature
) -> dict[str, Any]:
    """The v2 request for one row: each value gets the input's datatype and a leading 1."""
    wanted = {spec.name for spec in signature.inputs}
    if set(record) != wanted:
        raise BadRequest(
            f"message {message_id}: a record needs exactly the inputs "
            f"{', '.join(sorted(wanted))}; it has {', '.join(sorted(map(str, record))) or 'none'}"
        )
    inputs = []
    for spec in signature.inputs:
        value = record[spec.name]
        try:
            shape = list(np.shape(value))
        except ValueError:
            raise BadRequest(f"message {message_id}: {spec.name!r} is a ragged list") from None
        flat = np.ravel(np.asarray(value, dtype=object)).tolist()
        inputs.append(
            {"name": spec.name, "datatype": spec.datatype, "shape": [1, *shape], "data": flat}
        )
    return {"id": message_id, "inputs": inputs}
