"""Routing in the entry service: cascades, routes by request and sticky A/B splits.

The service's own model is the first tier and runs in-process; only a request that a `route`
rule matches, that the `split` sends to another variant, or whose answer meets an `escalate`
condition is forwarded, as it came (body, `x-request-id`, `traceparent`), to a tier's v2
endpoint: over HTTP (`routing_forward.Forwarder`) or, for a tier whose address the environment's
``MODELSTACK_ROUTING_TIERS`` gives, through a cloud transport (`routing_transports`); see
`routing_hops` for which, and `routing_config` for the rule that picks a tier's address.
Every answer carries the answering model's `model_name`/`model_version` and the parameters
`escalated`, `routed_by` and, when a tier failed and `on_tier_failure` is `fallback`,
`tier_failure`.

The decisions (`should_escalate`, `pick_route`, `pick_variant`) are pure functions. The
configuration is the runtime config's `routing` object, written by `modelstack` from the
manifest's `routing:` section and the tiers' URLs; this module never imports `modelstack`.
The HTTP path (`DataPlane.infer`, also behind the Lambda function-URL and API events) and the
Lambda direct invocation (`DataPlane.infer_object`) both answer through :class:`Router`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from modelstack_runtime.codec import HEADER_LENGTH_HEADER, InferRequest, decode_request
from modelstack_runtime.errors import ConfigError
from modelstack_runtime.routing_config import EscalateRule, RouteRule, RoutingConfig, Split
from modelstack_runtime.routing_forward import TierFailure, TierUnavailable
from modelstack_runtime.routing_hops import Hops

if TYPE_CHECKING:
    from modelstack_runtime.tracing import TraceContext, Tracer

__all__ = [
    "Router",
    "entropy",
    "pick_route",
    "pick_variant",
    "should_escalate",
]

RunModel = Callable[[Any, InferRequest], tuple[dict[str, np.ndarray], list[str]]]
"""The data plane's own inference: (model, request) -> (outputs, binary output names)."""
Encode = Callable[
    [Any, InferRequest, dict[str, np.ndarray], list[str]], tuple[bytes, dict[str, str]]
]
"""The data plane's response encoding: (model, request, outputs, binary) -> (body, headers)."""


# --- pure decisions ---------------------------------------------------------------------------


def _rows(values: np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    return array.reshape(1, -1) if array.ndim <= 1 else array.reshape(array.shape[0], -1)


def entropy(probabilities: np.ndarray) -> np.ndarray:
    """The entropy (natural log) of each row of class probabilities."""
    rows = np.clip(_rows(probabilities), 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(rows > 0.0, rows * np.log(rows), 0.0)
    result: np.ndarray = -terms.sum(axis=1)
    return result


SMALL_OUTPUT: Final = 256
"""Outputs of at most this many elements are decided in Python floats (a few numpy calls cost
more than the whole decision for one request's probabilities)."""


def should_escalate(condition: str, threshold: float, output: np.ndarray) -> bool:
    """Whether any row of `output` meets the condition (so the request goes on)."""
    size = np.asarray(output).size
    if size == 0:
        return False
    if condition == "max_prob_below" and size <= SMALL_OUTPUT:
        return _max_below(_rows(output).tolist(), threshold)
    if condition == "value_above":
        return bool((np.asarray(output, dtype=np.float64) > threshold).any())
    if condition == "value_below":
        return bool((np.asarray(output, dtype=np.float64) < threshold).any())
    rows = _rows(output)
    if condition == "max_prob_below":
        return bool((rows.max(axis=1) < threshold).any())
    if condition == "margin_below":
        if rows.shape[1] < 2:
            return False
        top = np.sort(rows, axis=1)
        return bool(((top[:, -1] - top[:, -2]) < threshold).any())
    if condition == "entropy_above":
        return bool((entropy(rows) > threshold).any())
    raise ConfigError(f"routing: unknown escalate condition {condition!r}")


def _max_below(rows: list[list[float]], threshold: float) -> bool:
    """numpy's `(rows.max(axis=1) < threshold).any()` in Python floats (a NaN in a row makes
    its maximum NaN, which is below nothing)."""
    return any(max(row) < threshold and not any(v != v for v in row) for row in rows)


def _matches(
    rule: RouteRule,
    nbytes: int,
    request: InferRequest,
    headers: Mapping[str, str],
    parameters: Callable[[], Mapping[str, Any]],
) -> bool:
    if rule.kind == "input_bytes_above":
        return nbytes > (rule.threshold or 0)
    if rule.kind == "elements_above":
        return sum(int(a.size) for a in request.inputs.values()) > (rule.threshold or 0)
    if rule.kind == "input":
        array = request.inputs.get(rule.name or "")
        dim = rule.dim or 0
        return array is not None and array.ndim > dim and array.shape[dim] > (rule.threshold or 0)
    if rule.kind == "header":
        value = headers.get((rule.name or "").lower())
        return value is not None and value == _text(rule.equals)
    if rule.kind == "parameter":
        params = parameters()
        return (rule.name or "") in params and params[rule.name or ""] == rule.equals
    raise ConfigError(f"routing: unknown route kind {rule.kind!r}")


def pick_route(
    rules: tuple[RouteRule, ...],
    nbytes: int,
    request: InferRequest,
    headers: Mapping[str, str],
    parameters: Callable[[], Mapping[str, Any]] = dict,
) -> str | None:
    """The tier the first matching rule names, or None (this service answers)."""
    for rule in rules:
        if _matches(rule, nbytes, request, headers, parameters):
            return rule.to
    return None


def pick_variant(key: str, weights: Mapping[str, int]) -> str:
    """The variant for `key`: the same key always gets the same one, in proportion to weights.

    The key's sha256 picks a bucket in 0..9999; variants own consecutive buckets in name order.
    """
    bucket = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 10000
    total = 0
    names = sorted(weights)
    for name in names:
        total += weights[name] * 100
        if bucket < total:
            return name
    return names[-1]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --- the router -------------------------------------------------------------------------------


class Router:
    """Decides where one request goes and answers it, with the routing parameters added."""

    def __init__(
        self, config: RoutingConfig, *, max_json_values: int, tracer: Tracer | None = None
    ) -> None:
        self.config = config
        self.hops = Hops(config, tracer)
        self.forwarder = self.hops.http
        self._max_json_values = max_json_values

    def close(self) -> None:
        self.hops.close()

    def infer(
        self,
        model: Any,
        run: RunModel,
        encode: Encode,
        body: bytes,
        header_length: int | None,
        headers: Mapping[str, str],
        trace: TraceContext | None = None,
    ) -> tuple[str | None, tuple[bytes, dict[str, str]]]:
        """Answer one infer request: (request id, (body, headers)); `trace`: its span's."""
        request = decode_request(body, header_length, max_json_values=self._max_json_values)
        parameters = _lazy_parameters(body, header_length)
        config = self.config
        tier = pick_route(config.route, len(body), request, headers, parameters)
        if tier is not None:
            return request.id, self._forwarded(
                tier, "route", body, headers, model, run, encode, request, trace
            )
        variant = self._variant(config.split, headers, parameters)
        if variant is not None:
            return request.id, self._forwarded(
                variant, "split", body, headers, model, run, encode, request, trace
            )
        outputs, binary = run(model, request)
        rules = config.escalate
        if not rules or not _rule_holds(rules[0], outputs):  # the usual case: no hop at all
            payload, reply_headers = encode(model, request, outputs, binary)
            return request.id, with_parameters(payload, reply_headers, _STAYED)
        return request.id, self._cascade(
            lambda: encode(model, request, outputs, binary), body, headers, trace
        )

    def _variant(
        self,
        split: Split | None,
        headers: Mapping[str, str],
        parameters: Callable[[], Mapping[str, Any]],
    ) -> str | None:
        if split is None:
            return None
        if split.key_kind == "header":
            key = headers.get(split.key_name.lower())
        else:
            raw = parameters().get(split.key_name)
            key = None if raw is None else _text(raw)
        if key is None:
            return None
        variant = pick_variant(key, split.weights)
        return None if variant == "self" else variant

    def _forwarded(
        self,
        tier: str,
        routed_by: str,
        body: bytes,
        headers: Mapping[str, str],
        model: Any,
        run: RunModel,
        encode: Encode,
        request: InferRequest,
        trace: TraceContext | None,
    ) -> tuple[bytes, dict[str, str]]:
        try:
            payload, reply_headers = self.hops.infer(
                tier, body, headers, client_errors=True, trace=trace
            )
        except TierFailure as failure:
            if self.config.on_tier_failure == "fail":
                raise TierUnavailable(f"routing: tier {tier!r} failed: {failure}") from None
            outputs, binary = run(model, request)
            payload, reply_headers = encode(model, request, outputs, binary)
            params = {"escalated": False, "routed_by": routed_by, "tier_failure": str(failure)}
            return with_parameters(payload, reply_headers, params)
        return with_parameters(payload, reply_headers, {"escalated": False, "routed_by": routed_by})

    def _cascade(
        self,
        own: Callable[[], tuple[bytes, dict[str, str]]],
        body: bytes,
        headers: Mapping[str, str],
        trace: TraceContext | None,
    ) -> tuple[bytes, dict[str, str]]:
        """Escalate along the rules, the first of which holds for this service's own outputs;
        `own` encodes this service's answer, needed only when the first hop fails."""
        escalated = False
        answer: tuple[bytes, dict[str, str]] | None = None
        outputs: Mapping[str, np.ndarray] = {}
        rules = self.config.escalate
        for index, rule in enumerate(rules):
            if index > 0 and not _rule_holds(rule, outputs):
                break
            try:
                answer = self.hops.infer(rule.to, body, headers, client_errors=False, trace=trace)
            except TierFailure as failure:
                if self.config.on_tier_failure == "fail":
                    raise TierUnavailable(f"routing: tier {rule.to!r} failed: {failure}") from None
                params = {
                    "escalated": escalated,
                    "routed_by": "escalate",
                    "tier_failure": str(failure),
                }
                return with_parameters(*(own() if answer is None else answer), params)
            escalated = True
            if index + 1 < len(rules):
                outputs = _outputs_of(*answer)
        assert answer is not None
        return with_parameters(*answer, _ESCALATED)


def _rule_holds(rule: EscalateRule, outputs: Mapping[str, np.ndarray]) -> bool:
    output = outputs.get(rule.output)
    return output is not None and should_escalate(rule.condition, rule.threshold, output)


def _outputs_of(payload: bytes, headers: Mapping[str, str]) -> dict[str, np.ndarray]:
    from modelstack_runtime.codec import read_response

    length = headers.get(HEADER_LENGTH_HEADER)
    try:
        return read_response(payload, None if length is None else int(length)).outputs
    except Exception:  # an answer we cannot read for the next rule: keep it as the final one
        return {}


def _lazy_parameters(body: bytes, header_length: int | None) -> Callable[[], Mapping[str, Any]]:
    """The request's v2 `parameters`, parsed on first use (only parameter rules need them)."""
    cache: list[Mapping[str, Any]] = []

    def get() -> Mapping[str, Any]:
        if not cache:
            head = body if header_length is None else body[:header_length]
            try:
                params = json.loads(head).get("parameters")
            except (ValueError, AttributeError):
                params = None
            cache.append(params if isinstance(params, dict) else {})
        return cache[0]

    return get


def with_parameters(
    payload: bytes, headers: Mapping[str, str], parameters: Mapping[str, Any]
) -> tuple[bytes, dict[str, str]]:
    """The response with `parameters` merged into its JSON head (binary responses included)."""
    length_text = headers.get(HEADER_LENGTH_HEADER)
    head = payload if length_text is None else payload[: int(length_text)]
    if b'"parameters"' in head:
        obj = json.loads(head)
        obj["parameters"] = {**(obj.get("parameters") or {}), **parameters}
        new_head = json.dumps(obj, separators=(",", ":")).encode()
    else:
        opening = _opening(parameters)
        new_head = opening + (b"," + head[1:] if head[1:].strip() != b"}" else b"}")
    if length_text is None:
        return new_head, dict(headers)
    out = dict(headers)
    out[HEADER_LENGTH_HEADER] = str(len(new_head))
    return new_head + payload[len(head) :], out


_STAYED: Final = {"escalated": False, "routed_by": "self"}
"""The parameters of an answer this service gave without any hop."""
_ESCALATED: Final = {"escalated": True, "routed_by": "escalate"}
_OPENINGS: Final = {
    id(params): b'{"parameters":' + json.dumps(params, separators=(",", ":")).encode()
    for params in (_STAYED, _ESCALATED)
}


def _opening(parameters: Mapping[str, Any]) -> bytes:
    """`{"parameters":{...}` without its closing brace; the usual two are encoded once."""
    known = _OPENINGS.get(id(parameters))
    if known is not None:
        return known
    return json.dumps({"parameters": parameters}, separators=(",", ":")).encode()[:-1]


def request_body(request: Any) -> bytes:
    """A Lambda direct invocation's request object as the v2 JSON body the router forwards."""
    if isinstance(request, dict):
        request = {k: v for k, v in request.items() if k != "model_name"}
    return json.dumps(request, separators=(",", ":")).encode()


def answer_object(payload: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """A routed answer as the JSON response dict of a direct invocation (binary tensors too)."""
    from modelstack_runtime.codec import read_response, response_object

    length_text = headers.get(HEADER_LENGTH_HEADER)
    length = None if length_text is None else int(length_text)
    try:
        head = json.loads(payload if length is None else payload[:length])
        if length is None and isinstance(head, dict):
            return head
        response = read_response(payload, length)
    except ValueError:
        raise TierUnavailable("routing: the answer is not a v2 response") from None
    answer = response_object(
        response.model_name, str(response.model_version or ""), response.id, response.outputs
    )
    if isinstance(head.get("parameters"), dict):
        answer["parameters"] = head["parameters"]
    return answer
