"""Reaching a Lambda version through the Invoke API (boto3, imported only when used): the
aws-lambda candidate, and the local target's Lambda flavour, which speaks the same API."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from modelstack.errors import MissingDependencyError
from modelstack.processing.raw_inputs import json_safe
from modelstack.smoke.clients import InferenceFailed
from modelstack_runtime.codec import decode_request_object, encode_json_request

__all__ = ["LambdaInvokeClient"]


class LambdaInvokeClient:
    """Invokes one version of a Lambda function with a v2 request as the direct payload.

    `endpoint_url` points boto3 at another implementation of the Invoke API, such as the local
    target's (`http://127.0.0.1:PORT`, with `local=True` for placeholder credentials), which is
    how this client is tested without AWS.
    """

    def __init__(
        self,
        function_name: str,
        qualifier: str,
        region: str,
        *,
        endpoint_url: str | None = None,
        local: bool = False,
    ) -> None:
        self.function_name = function_name
        self.qualifier = qualifier
        self.endpoint_url = endpoint_url
        self.answered_by: str | None = None
        self._client = _boto3_lambda(region, endpoint_url, local)

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        payload = encode_json_request(json_safe(inputs))  # an image goes in base64
        try:
            response = self._client.invoke(
                FunctionName=self.function_name, Qualifier=self.qualifier, Payload=payload
            )
        except Exception as exc:  # botocore raises many types; all mean "could not invoke"
            raise InferenceFailed(f"invoke {self.function_name}:{self.qualifier}: {exc}") from None
        body = response["Payload"].read()
        try:
            result = json.loads(body)
        except ValueError:
            raise InferenceFailed(f"the function answered with non-JSON: {body[:200]!r}") from None
        if response.get("FunctionError") or (isinstance(result, dict) and "error" in result):
            detail = result.get("error") or result.get("errorMessage") or result
            raise InferenceFailed(f"the function answered with an error: {detail}")
        self.answered_by = str(result.get("model_name", "")) or None
        return decode_request_object({"inputs": result["outputs"]}).inputs

    def close(self) -> None:
        self._client.close()

    def describe(self) -> str:
        where = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"Lambda {self.function_name}:{self.qualifier}{where}"


def _boto3_lambda(region: str, endpoint_url: str | None, local: bool) -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingDependencyError("invoking AWS Lambda", "aws") from None
    options: dict[str, Any] = {"region_name": region}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if local:  # the local Invoke API ignores signatures, as `sam local start-lambda` does
        options.update(aws_access_key_id="local", aws_secret_access_key="local")
    return boto3.client("lambda", **options)
