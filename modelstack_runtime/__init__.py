"""modelstack_runtime: serve one ONNX model over the Open Inference Protocol (KServe v2).

Runs inside container images: ``python -m modelstack_runtime`` serves HTTP on ``$PORT``;
``modelstack_runtime.lambda_handler.handler`` is the AWS Lambda entry point. Depends only on
numpy and onnxruntime.

The codec and config are importable without loading onnxruntime; the names that need it
(``Model``, ``DataPlane``, ``RuntimeServer``...) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from modelstack_runtime.codec import (
    HEADER_LENGTH_HEADER,
    InferResponse,
    decode_request,
    decode_response,
    encode_binary_request,
    encode_json_request,
    encode_response,
    read_response,
)
from modelstack_runtime.config import CONFIG_ENV, RuntimeConfig, load_config
from modelstack_runtime.datatypes import NUMPY_TO_V2, ONNX_TO_V2, V2_TO_NUMPY
from modelstack_runtime.errors import (
    BadRequest,
    ConfigError,
    InferenceError,
    InternalError,
    LengthRequired,
    MethodNotAllowed,
    ModelNotFound,
    ModelNotReady,
    PayloadTooLarge,
    RuntimeFault,
    UnsupportedMediaType,
)
from modelstack_runtime.signature import Signature, TensorSpec

if TYPE_CHECKING:
    from modelstack_runtime.dataplane import DataPlane, load_dataplane
    from modelstack_runtime.http_server import RuntimeServer, serve
    from modelstack_runtime.lambda_handler import LambdaAdapter
    from modelstack_runtime.logs import configure_logging
    from modelstack_runtime.model import Model, optimize_model

__version__ = "0.1.0"
"""Kept equal to the modelstack package's version (a test checks): images carry this package
without the distribution's metadata, so it cannot read its version from there."""

__all__ = [
    "CONFIG_ENV",
    "HEADER_LENGTH_HEADER",
    "NUMPY_TO_V2",
    "ONNX_TO_V2",
    "V2_TO_NUMPY",
    "BadRequest",
    "ConfigError",
    "DataPlane",
    "InferResponse",
    "InferenceError",
    "InternalError",
    "LambdaAdapter",
    "LengthRequired",
    "MethodNotAllowed",
    "Model",
    "ModelNotFound",
    "ModelNotReady",
    "PayloadTooLarge",
    "RuntimeConfig",
    "RuntimeFault",
    "RuntimeServer",
    "Signature",
    "TensorSpec",
    "UnsupportedMediaType",
    "configure_logging",
    "decode_request",
    "decode_response",
    "encode_binary_request",
    "encode_json_request",
    "encode_response",
    "load_config",
    "load_dataplane",
    "optimize_model",
    "read_response",
    "serve",
]

# Names that import onnxruntime, and the module each comes from.
_LAZY = {
    "DataPlane": "modelstack_runtime.dataplane",
    "load_dataplane": "modelstack_runtime.dataplane",
    "RuntimeServer": "modelstack_runtime.http_server",
    "serve": "modelstack_runtime.http_server",
    "LambdaAdapter": "modelstack_runtime.lambda_handler",
    "configure_logging": "modelstack_runtime.logs",
    "Model": "modelstack_runtime.model",
    "optimize_model": "modelstack_runtime.model",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelstack_runtime' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
