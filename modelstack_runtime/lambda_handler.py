"""The AWS Lambda adapter: the same v2 API as a direct invocation or behind an HTTP proxy.

Accepted events:

* direct invocation: the v2 infer request itself (optionally with ``model_name``); the answer
  is the v2 response as a dict, or ``{"error": "...", "status": 400}`` for a bad request (4xx).
  A fault (5xx: the model failed, or is not ready, or a bug) is raised, so the Lambda runtime
  reports it as a function error and the caller sees ``FunctionError: Unhandled`` with
  ``errorType`` (such as ``InternalError``) and ``errorMessage``, as for any Lambda function;
* function URL and API Gateway HTTP API (payload 2.0) events, and API Gateway REST API
  (payload 1.0) events: ``body`` (base64 when ``isBase64Encoded``), path, method and headers,
  including ``Inference-Header-Content-Length``; the answer is
  ``{"statusCode", "headers", "body", "isBase64Encoded"}``. A ``POST`` to ``/``, or to the
  root of a named stage (``/prod``), is an infer; the stage prefix of a v2 ``rawPath`` is
  dropped (``requestContext.stage``).

The model is loaded once per execution environment (during the init phase when running inside
Lambda) and reused. Access lines carry CloudWatch Embedded Metric Format fields.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any, Final

from modelstack_runtime.config import load_config
from modelstack_runtime.dataplane import DataPlane, load_dataplane
from modelstack_runtime.errors import BadRequest, InferenceError, InternalError
from modelstack_runtime.events import batch_event_kind, handle_batch_event
from modelstack_runtime.logs import configure_logging
from modelstack_runtime.routes import Reply, error_reply, handle

__all__ = ["EMF_NAMESPACE_ENV", "LambdaAdapter", "handler"]

EMF_NAMESPACE_ENV: Final = "MODELSTACK_EMF_NAMESPACE"

logger = logging.getLogger("modelstack_runtime")

_TEXT_TYPES: Final = ("application/json", "text/")


class LambdaAdapter:
    """Turns Lambda events into data-plane calls and answers in the event's shape."""

    def __init__(self, dataplane: DataPlane) -> None:
        self.dataplane = dataplane

    def __call__(self, event: Any, context: Any = None) -> dict[str, Any]:
        request_id = getattr(context, "aws_request_id", None)
        if batch_event_kind(event) is not None:  # SQS and S3 records: see events/
            return handle_batch_event(self.dataplane, event)
        if isinstance(event, dict) and _is_proxy_event(event):
            try:
                return self._proxy(event, request_id)
            except Exception:  # never let a bug surface as a crashed invocation
                logger.exception("unexpected error in the Lambda handler")
                return _proxy_reply(error_reply(InternalError("internal error")))
        try:
            return self._direct(event, request_id)
        except InferenceError as exc:
            if exc.status < HTTPStatus.INTERNAL_SERVER_ERROR:
                return _direct_error(exc)
            raise  # a fault: the runtime reports it as the invocation's function error
        except Exception:
            logger.exception("unexpected error in the Lambda handler")
            raise InternalError("internal error") from None

    def _direct(self, event: Any, request_id: str | None) -> dict[str, Any]:
        if not isinstance(event, dict):
            raise BadRequest("the event must be a v2 infer request object")
        name = event.get("model_name", self.dataplane.config.model_name)
        if not isinstance(name, str):
            raise BadRequest(f"'model_name' must be a string, got {name!r}")
        return self.dataplane.infer_object(name, event, request_id=request_id)

    def _proxy(self, event: dict[str, Any], request_id: str | None) -> dict[str, Any]:
        try:
            method, path = _method_and_path(event)
            headers = _event_headers(event)
            body = _event_body(event)
            self.dataplane.check_request_size(len(body))
        except InferenceError as exc:
            self.dataplane.log_rejected(self.dataplane.config.model_name, exc, 0, request_id)
            return _proxy_reply(error_reply(exc))
        if request_id is not None:
            headers.setdefault("x-request-id", request_id)
        if method == "POST" and path in ("", "/"):
            path = f"/v2/models/{self.dataplane.config.model_name}/infer"
        return _proxy_reply(handle(self.dataplane, method, path, headers, body))


def _is_proxy_event(event: Mapping[str, Any]) -> bool:
    return "requestContext" in event or "httpMethod" in event or "rawPath" in event


def _field(event: Mapping[str, Any], key: str, kind: type, where: str = "event") -> Any:
    """``event[key]`` if it is a ``kind`` (None when absent); else a 400 naming the field."""
    value = event.get(key)
    if value is not None and not isinstance(value, kind):
        expected = "an object" if kind is dict else "a string"
        raise BadRequest(f"malformed proxy event: {where}.{key} must be {expected}")
    return value


def _method_and_path(event: Mapping[str, Any]) -> tuple[str, str]:
    context = _field(event, "requestContext", dict) or {}
    http = _field(context, "http", dict, "event.requestContext") or {}
    method = (
        _field(event, "httpMethod", str) or _field(http, "method", str, "requestContext.http")
        or "POST"
    ).upper()  # fmt: skip
    path = (
        _field(event, "rawPath", str) or _field(event, "path", str)
        or _field(http, "path", str, "requestContext.http") or "/"
    )  # fmt: skip
    stage = context.get("stage")
    if isinstance(stage, str) and stage and stage != "$default":
        prefix = f"/{stage}"  # API Gateway puts a named stage in front of the route's path
        if path == prefix or path.startswith(prefix + "/"):
            return method, path[len(prefix) :] or "/"
    marker = path.find("/v2")  # a stage prefix without requestContext.stage
    if marker > 0:
        path = path[marker:]
    return method, path


def _event_headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = _field(event, "headers", dict) or {}
    headers: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(value, str):
            raise BadRequest(f"malformed proxy event: header {str(name)[:100]!r} must be a string")
        headers[str(name).lower()] = value
    return headers


def _event_body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise BadRequest("the event 'body' must be a string")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the event body is marked base64 but is not valid base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("malformed proxy event: the body is not valid Unicode") from None


def _proxy_reply(reply: Reply) -> dict[str, Any]:
    content_type = reply.headers.get("Content-Type", "")
    if content_type.startswith(_TEXT_TYPES):
        return {
            "statusCode": reply.status.value,
            "headers": reply.headers,
            "body": reply.body.decode("utf-8"),
            "isBase64Encoded": False,
        }
    return {
        "statusCode": reply.status.value,
        "headers": reply.headers,
        "body": base64.b64encode(reply.body).decode("ascii"),
        "isBase64Encoded": True,
    }


def _direct_error(exc: InferenceError) -> dict[str, Any]:
    return {"error": exc.message, "status": HTTPStatus(exc.status).value}


_adapter: LambdaAdapter | None = None
_adapter_lock = threading.Lock()


def _default_adapter() -> LambdaAdapter:
    global _adapter
    if _adapter is None:
        with _adapter_lock:
            if _adapter is None:
                configure_logging(sys.stdout)  # bare JSON lines, as EMF requires
                namespace = os.environ.get(EMF_NAMESPACE_ENV, "modelstack")
                _adapter = LambdaAdapter(load_dataplane(load_config(), emf_namespace=namespace))
    return _adapter


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    """The Lambda entry point: ``modelstack_runtime.lambda_handler.handler``."""
    return _default_adapter()(event, context)


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    _default_adapter()  # load during the init phase, not on the first request
