"""The smoke tests' client for Lambda images, over the local Lambda Runtime API.

The Runtime API server and the invocation broker live with the local target
(`modelstack.deploy.local.runtime_api`, `modelstack.deploy.local.invocations`), whose router
serves them too; they are re-exported here for the image build's container smoke tests.
`LambdaRuntimeClient` sends each inference as one direct invocation of the v2 request.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from modelstack.deploy.local.invocations import InvocationBroker, InvocationFailed
from modelstack.deploy.local.runtime_api import API_PREFIX, RuntimeApiServer
from modelstack.smoke.clients import InferenceFailed
from modelstack_runtime.codec import decode_response, encode_json_request

if TYPE_CHECKING:
    import numpy as np

__all__ = ["API_PREFIX", "LambdaRuntimeClient", "RuntimeApiServer"]


class LambdaRuntimeClient:
    """Smoke-test client: each inference is one direct invocation of the v2 infer request."""

    def __init__(self, broker: InvocationBroker, model_name: str, timeout_s: float = 30.0) -> None:
        self.broker = broker
        self.model_name = model_name
        self.timeout_s = timeout_s

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        payload = encode_json_request(inputs)
        try:
            body = self.broker.invoke(payload, self.timeout_s)
        except (InvocationFailed, TimeoutError) as exc:
            raise InferenceFailed(str(exc)) from None
        try:
            document = json.loads(body)
        except ValueError:
            raise InferenceFailed(f"the function answered with non-JSON: {body[:200]!r}") from None
        if isinstance(document, dict) and "error" in document:
            raise InferenceFailed(f"{document.get('status', '?')} {document['error']}")
        try:
            return decode_response(body)
        except Exception as exc:  # the runtime codec raises its own error types
            raise InferenceFailed(f"unreadable response from the function: {exc}") from None

    def describe(self) -> str:
        return f"Lambda function '{self.broker.function_name}' (local runtime API)"

    def close(self) -> None:
        pass
