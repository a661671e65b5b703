"""Ways to reach a model for smoke tests. Each speaks the Open Inference Protocol through the
runtime's own codec, so requests and responses are built and read by one implementation."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

import numpy as np

from modelstack.processing.raw_inputs import holds_raw_bytes
from modelstack_runtime.codec import (
    HEADER_LENGTH_HEADER,
    encode_binary_request,
    encode_json_request,
    read_response,
)
from modelstack_runtime.dataplane import DataPlane
from modelstack_runtime.errors import InferenceError

__all__ = ["HttpClient", "InProcessClient", "InferenceClient", "InferenceFailed", "answered_by"]


class InferenceFailed(Exception):
    """The endpoint answered with an error, or could not be reached."""


class InferenceClient(Protocol):
    """Anything that can run one inference: a local data plane, an HTTP endpoint, a Lambda."""

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def describe(self) -> str: ...

    def close(self) -> None:
        """Release connections; the client is not used afterwards."""
        ...


def answered_by(client: InferenceClient) -> str | None:
    """The v2 `model_name` of the client's last answer; None for a client that cannot tell.

    A client that reads it keeps it in its `answered_by` attribute after each `infer`.
    """
    name = getattr(client, "answered_by", None)
    return name if isinstance(name, str) else None


class InProcessClient:
    """Runs requests through a `DataPlane` in this process (as `modelstack test` does)."""

    def __init__(self, dataplane: DataPlane, model_name: str) -> None:
        self.dataplane = dataplane
        self.model_name = model_name
        self.answered_by: str | None = None

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        length: int | None = None
        if holds_raw_bytes(inputs):  # an encoded image: JSON cannot carry it
            (body, length), kind = encode_binary_request(inputs), "application/octet-stream"
        else:
            body, kind = encode_json_request(inputs), "application/json"
        try:
            payload, headers = self.dataplane.infer(self.model_name, body, length, kind)
        except InferenceError as exc:
            raise InferenceFailed(f"{int(exc.status)} {exc}") from None
        reply_length = headers.get(HEADER_LENGTH_HEADER)
        response = read_response(payload, int(reply_length) if reply_length else None)
        self.answered_by = response.model_name
        return response.outputs

    def describe(self) -> str:
        return "onnxruntime in this process"

    def close(self) -> None:
        """Close the data plane's kept-alive connections (a routed service's to its tiers)."""
        self.dataplane.close()


class HttpClient:
    """An Open Inference Protocol endpoint over HTTP (a container, or a tagged revision URL)."""

    def __init__(
        self,
        base_url: str,
        model_name: str,
        *,
        binary: bool = False,
        timeout_s: float = 30.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        self.binary = binary
        self.timeout_s = timeout_s
        self.extra_headers = dict(headers or {})
        self.answered_by: str | None = None
        self._scheme, self._netloc = parts.scheme, parts.netloc
        self._prefix = parts.path.rstrip("/")
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._connection = cls(self._netloc, timeout=self.timeout_s)
        return self._connection

    def infer(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        headers = dict(self.extra_headers)
        if self.binary or holds_raw_bytes(inputs):
            body, length = encode_binary_request(inputs)
            headers["Content-Type"] = "application/octet-stream"
            headers[HEADER_LENGTH_HEADER] = str(length)
        else:
            body = encode_json_request(inputs)
            headers["Content-Type"] = "application/json"
        path = f"{self._prefix}/v2/models/{self.model_name}/infer"
        try:
            connection = self._connect()
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            raise InferenceFailed(f"cannot reach {self.base_url}: {exc}") from None
        if response.status != 200:
            raise InferenceFailed(f"HTTP {response.status}: {_error_text(payload)}")
        header_length = response.getheader(HEADER_LENGTH_HEADER)
        answer = read_response(payload, int(header_length) if header_length else None)
        self.answered_by = answer.model_name
        return answer.outputs

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def describe(self) -> str:
        return f"{self.base_url} ({'binary' if self.binary else 'JSON'})"


def _error_text(payload: bytes) -> str:
    try:
        body = json.loads(payload)
    except ValueError:
        return payload[:500].decode("utf-8", errors="replace")
    return str(body.get("error", body)) if isinstance(body, dict) else str(body)
