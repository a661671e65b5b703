"""Scoring a batch of queue messages in as few model calls as their shapes allow.

Each message is parsed, decoded and validated on its own first, so a message that is not JSON,
not the model's inputs, or not finite fails alone. The valid ones are grouped by what a batch
dimension can join (the same input names, datatypes and row shapes, the same requested
outputs) and each group runs as one model call over its stacked rows; the outputs are sliced
back into one v2 response per message. When a stacked call fails, or the model's outputs do
not keep one row per input row, the group's messages are scored one by one instead, so only
the message the model refuses fails. Stacking treats rows as independent, as a batch
dimension means.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from modelstack_runtime.codec import InferRequest, decode_request_object, response_object
from modelstack_runtime.errors import BadRequest, InferenceError, ModelNotReady, PayloadTooLarge
from modelstack_runtime.events.records import request_of
from modelstack_runtime.json_limits import check_json_limits
from modelstack_runtime.validation import check_finite, validate_inputs

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane
    from modelstack_runtime.model import Model

__all__ = ["MAX_MESSAGE_BYTES", "Prepared", "prepare", "score_prepared"]

MAX_MESSAGE_BYTES: Final = 1024 * 1024
"""SQS carries at most 1 MiB per message; anything larger is not a message from it."""

Outcome = dict[str, Any] | Exception
"""A message's v2 response, or why it failed."""


@dataclass(frozen=True)
class Prepared:
    """One message, decoded and validated: ready to be stacked with others."""

    message_id: str
    request: InferRequest
    nbytes: int


def prepare(dp: DataPlane, body: Any, *, message_id: str) -> Prepared:
    """Decode and validate one message body (raises InferenceError for a bad one)."""
    if not isinstance(body, str):
        raise BadRequest(f"message {message_id} has no text body")
    if len(body) > MAX_MESSAGE_BYTES:
        raise PayloadTooLarge(f"message {message_id} is above {MAX_MESSAGE_BYTES} bytes")
    raw = body.encode()
    check_json_limits(raw, dp.config.max_json_values, f"message {message_id}")
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise BadRequest(f"message {message_id} is not JSON: {exc}") from None
    model = _model(dp)
    request = decode_request_object(
        request_of(parsed, message_id=message_id, signature=model.signature)
    )
    validate_inputs(model.signature, request.inputs)
    if not dp.config.allow_non_finite:
        for name, array in request.inputs.items():
            check_finite(name, array)
    return Prepared(message_id, request, len(raw))


def score_prepared(dp: DataPlane, prepared: Sequence[Prepared]) -> dict[str, Outcome]:
    """Each message's response (or failure) by message id, in as few model calls as can be."""
    groups: dict[Any, list[Prepared]] = {}
    alone: list[Prepared] = []
    for item in prepared:
        key = _stack_key(item.request)
        if key is None:
            alone.append(item)
        else:
            groups.setdefault(key, []).append(item)
    outcomes: dict[str, Outcome] = {}
    for group in groups.values():
        if len(group) == 1:
            alone.extend(group)
        else:
            outcomes.update(_stacked(dp, group))
    for item in alone:
        outcomes[item.message_id] = _alone(dp, item)
    return outcomes


def _stack_key(request: InferRequest) -> Any:
    """What must match for requests to share a model call; None when one cannot be stacked."""
    if any(array.ndim == 0 for array in request.inputs.values()):
        return None
    inputs = tuple(
        (name, array.dtype.str, array.shape[1:]) for name, array in sorted(request.inputs.items())
    )
    outputs = None if request.outputs is None else tuple(o.name for o in request.outputs)
    return inputs, outputs


def _stacked(dp: DataPlane, group: Sequence[Prepared]) -> dict[str, Outcome]:
    first = group[0].request
    rows = [next(iter(item.request.inputs.values())).shape[0] for item in group]
    inputs = {
        name: np.concatenate([item.request.inputs[name] for item in group]) for name in first.inputs
    }
    request = InferRequest(id=first.id, inputs=inputs, outputs=first.outputs)
    try:
        outputs = dp.infer_decoded(
            dp.config.model_name, request, nbytes=sum(item.nbytes for item in group)
        )
    except InferenceError:  # one of them may be what the model refuses: find it alone
        return {item.message_id: _alone(dp, item) for item in group}
    total = sum(rows)
    if any(array.ndim == 0 or array.shape[0] != total for array in outputs.values()):
        return {item.message_id: _alone(dp, item) for item in group}
    model = _model(dp)
    outcomes: dict[str, Outcome] = {}
    start = 0
    for item, count in zip(group, rows, strict=True):
        mine = {name: array[start : start + count] for name, array in outputs.items()}
        start += count
        outcomes[item.message_id] = _response(model, item, mine)
    return outcomes


def _alone(dp: DataPlane, item: Prepared) -> Outcome:
    try:
        outputs = dp.infer_decoded(dp.config.model_name, item.request, nbytes=item.nbytes)
    except Exception as exc:  # the outcome of this message only
        return exc
    return _response(_model(dp), item, outputs)


def _response(model: Model, item: Prepared, outputs: dict[str, np.ndarray]) -> Outcome:
    try:
        return response_object(model.name, model.version, item.request.id, outputs)
    except InferenceError as exc:  # an output JSON cannot carry (NaN): this message fails
        return exc


def _model(dp: DataPlane) -> Model:
    model = dp.model
    if model is None:
        raise ModelNotReady("the model is not loaded yet")
    return model
