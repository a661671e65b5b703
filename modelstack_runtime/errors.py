"""Errors raised by the inference runtime.

Every error has one root, and every error a client can cause carries the HTTP status that the
adapters (HTTP server, Lambda handler) answer with::

    RuntimeFault
     ├── ConfigError                  the runtime configuration file is missing or invalid
     └── InferenceError (500)         a request failed; ``status`` says how to answer it
          ├── BadRequest (400)        malformed JSON, unknown input, wrong datatype/shape/length
          ├── ModelNotFound (404)     unknown model name or version, unknown route
          ├── MethodNotAllowed (405)  known route, wrong HTTP method (with an Allow header)
          ├── RequestTimeout (408)    the request did not arrive within ``request_timeout_s``
          ├── LengthRequired (411)    POST without Content-Length
          ├── PayloadTooLarge (413)   body above ``max_request_bytes``, JSON above its limits
          ├── UnsupportedMediaType (415)
          ├── HeaderFieldsTooLarge (431)  the request head is too large
          ├── InternalError (500)     a real fault: onnxruntime failed on validated input
          ├── ModelNotReady (503)     the model is still loading or warming up
          └── Overloaded (503)        ``max_concurrency`` requests are already in flight

Adapters map an error to a reply with :func:`error_body`; bodies are ``{"error": "..."}``, and
``headers`` holds the reply headers an error needs (``Allow``, ``Retry-After``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import ClassVar

__all__ = [
    "BadRequest",
    "ConfigError",
    "HeaderFieldsTooLarge",
    "InferenceError",
    "InternalError",
    "LengthRequired",
    "MethodNotAllowed",
    "ModelNotFound",
    "ModelNotReady",
    "Overloaded",
    "PayloadTooLarge",
    "RequestTimeout",
    "RuntimeFault",
    "UnsupportedMediaType",
    "error_body",
]


class RuntimeFault(Exception):
    """Root of every error raised by ``modelstack_runtime``."""


class ConfigError(RuntimeFault):
    """The runtime configuration is missing, unreadable or invalid."""


class InferenceError(RuntimeFault):
    """A request could not be answered; ``status`` is the HTTP status to reply with."""

    status: ClassVar[HTTPStatus] = HTTPStatus.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(InferenceError):
    status = HTTPStatus.BAD_REQUEST


class ModelNotFound(InferenceError):
    status = HTTPStatus.NOT_FOUND


class MethodNotAllowed(InferenceError):
    status = HTTPStatus.METHOD_NOT_ALLOWED


class RequestTimeout(InferenceError):
    status = HTTPStatus.REQUEST_TIMEOUT


class LengthRequired(InferenceError):
    status = HTTPStatus.LENGTH_REQUIRED


class PayloadTooLarge(InferenceError):
    status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class UnsupportedMediaType(InferenceError):
    status = HTTPStatus.UNSUPPORTED_MEDIA_TYPE


class HeaderFieldsTooLarge(InferenceError):
    status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE


class InternalError(InferenceError):
    status = HTTPStatus.INTERNAL_SERVER_ERROR


class ModelNotReady(InferenceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


class Overloaded(InferenceError):
    status = HTTPStatus.SERVICE_UNAVAILABLE


def error_body(message: str) -> bytes:
    """The JSON body of an error reply: ``{"error": message}``."""
    return json.dumps({"error": message}).encode()
