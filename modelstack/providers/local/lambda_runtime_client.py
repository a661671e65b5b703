"""The smoke tests' client for Lambda images, over the local Lambda Runtime API.

The image build's container smoke tests run a Lambda image against the local provider's
Runtime API server (`runtime_api`) and invocation broker (`invocations`), which its router
serves too. `LambdaRuntimeClient` sends each inference as one direct invocation of the v2
request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from modelstack.processing.lambda_events import binary_invocation, binary_reply
from modelstack.processing.raw_inputs import holds_raw_bytes
from modelstack.providers.local.invocations import InvocationBroker, InvocationFailed
from modelstack.smoke.clients import InferenceFailed
from modelstack_runtime.codec import encode_json_request, read_response

if TYPE_CHECKING:
    import numpy as np

__all__ = ["LambdaRuntimeClient"]


class LambdaRuntimeClient:
    """Smoke-test client: each inference is one direct invocation of the v2 infer request."""

    def __init__(self, broker: InvocationBroker, model_name: str, timeout_s: float = 30.0) -> None:
        self.broker = broker
        self.model_name = model_name
        self.timeout_s = timeout_s
        self.answered_by: str | None = None

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raw = holds_raw_bytes(inputs)  # an encoded image: send a binary function-URL event
        payload = binary_invocation(self.model_name, inputs) if raw else encode_json_request(inputs)
        try:
            body = self.broker.invoke(payload, self.timeout_s)
        except (InvocationFailed, TimeoutError) as exc:
            raise InferenceFailed(str(exc)) from None
        if raw:
            self.answered_by = None  # a binary reply does not say which model answered
            return binary_reply(body)
        try:
            document = json.loads(body)
        except ValueError:
            raise InferenceFailed(f"the function answered with non-JSON: {body[:200]!r}") from None
        if isinstance(document, dict) and "error" in document:
            raise InferenceFailed(f"{document.get('status', '?')} {document['error']}")
        try:
            answer = read_response(body)
        except Exception as exc:  # the runtime codec raises its own error types
            raise InferenceFailed(f"unreadable response from the function: {exc}") from None
        self.answered_by = answer.model_name
        return answer.outputs

    def describe(self) -> str:
        return f"Lambda function '{self.broker.function_name}' (local runtime API)"

    def close(self) -> None:
        pass
