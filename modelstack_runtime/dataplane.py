"""The transport-neutral core: health, metadata and inference for the one loaded model.

The HTTP server and the Lambda handler are thin adapters around :class:`DataPlane`. Each
inference emits one structured JSON log line on the ``modelstack_runtime.access`` logger:
request id, model name and version, status, outcome, latency and byte counts; never payloads.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

import numpy as np

from modelstack_runtime import __version__
from modelstack_runtime.access_line import access_line, json_string
from modelstack_runtime.codec import (
    HEADER_LENGTH_HEADER,
    InferRequest,
    decode_request,
    decode_request_object,
    encode_response,
    response_object,
)
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.errors import (
    BadRequest,
    InferenceError,
    InternalError,
    ModelNotFound,
    ModelNotReady,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from modelstack_runtime.metrics import (
    EMF_REQUEST_METRICS,
    RuntimeMetrics,
    emf_directives,
    emf_request_fields,
)
from modelstack_runtime.monitoring import Monitoring
from modelstack_runtime.validation import check_finite, validate_inputs, validate_output_names

if TYPE_CHECKING:
    from modelstack_runtime.model import Model
    from modelstack_runtime.routing import Router
    from modelstack_runtime.tracing import Span, Tracer

__all__ = ["ACCESS_LOGGER", "DataPlane", "load_dataplane", "set_access_sink"]

ACCESS_LOGGER: Final = "modelstack_runtime.access"
SERVER_NAME: Final = "modelstack-runtime"
SERVER_VERSION: Final = __version__

access_log = logging.getLogger(ACCESS_LOGGER)
logger = logging.getLogger("modelstack_runtime")

_JSON_TYPES: Final = frozenset({"", "application/json"})
_BINARY_TYPES: Final = frozenset({"", "application/json", "application/octet-stream"})
_JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}

_T = TypeVar("_T")


@dataclass(slots=True)
class _Done(Generic[_T]):
    """What an answered request reports: its id, result, inference times, response size."""

    request_id: str | None
    result: _T
    infer_start: float = 0.0
    infer_end: float = 0.0
    response_bytes: int | None = None


# Where access lines go: a direct writer set by the entry points (see ``logs.py``), which
# costs a few microseconds per line instead of the ~25 us of a logging record; else logging.
_access_sink: Callable[[str], None] | None = None


def set_access_sink(sink: Callable[[str], None] | None) -> None:
    """Send access lines to ``sink`` (one JSON string per call); None: the logging module."""
    global _access_sink
    _access_sink = sink


# Ids for requests that bring none: unique, not secret. One getrandom system call per request
# (os.urandom) costs more than the rest of the access line on some virtual machines.
_ids: Final = random.Random(os.urandom(16))


class DataPlane:
    """Answers v2 requests for one model. Ready once a warmed-up model is attached."""

    def __init__(
        self,
        model: Model | None,
        config: RuntimeConfig,
        *,
        emf_namespace: str | None = None,
    ) -> None:
        self.config = config
        self._model = model
        self._emf_namespace = emf_namespace
        self._ready = threading.Event()
        self._model_json = json_string(config.model_name)
        self._version_json = json_string(config.model_version)
        self.monitoring = Monitoring.from_config(
            config, emf_namespace=emf_namespace, emit=_emit_line
        )
        self.metrics: RuntimeMetrics = self.monitoring.metrics
        if emf_namespace is not None:
            self._emf = emf_directives(emf_namespace, ["model"], EMF_REQUEST_METRICS)
        if model is not None:
            self._ready.set()
        self._router = _router(config, self.monitoring.tracer)

    # --- health and metadata ---------------------------------------------------------------

    def set_model(self, model: Model) -> None:
        """Attach a loaded (and warmed-up) model; the data plane is ready from now on."""
        self._model = model
        self._ready.set()

    @property
    def model(self) -> Model | None:
        return self._model

    def close(self) -> None:
        """Close what the data plane holds open: a router's kept-alive tier connections, and
        the spans monitoring still holds in a batch (exported now)."""
        if self._router is not None:
            self._router.close()
        self.monitoring.close()

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self._ready.is_set()

    def server_metadata(self) -> dict[str, Any]:
        return {
            "name": SERVER_NAME,
            "version": SERVER_VERSION,
            "extensions": ["binary_tensor_data"],
        }

    def model_metadata(self, name: str, version: str | None = None) -> dict[str, Any]:
        return self._require_model(name, version).metadata()

    def model_ready(self, name: str, version: str | None = None) -> bool:
        self._check_name(name, version)
        return self.ready()

    def check_request_size(self, nbytes: int) -> None:
        limit = self.config.max_request_bytes
        if nbytes > limit:
            raise PayloadTooLarge(f"request body of {nbytes} bytes exceeds the limit of {limit}")

    # --- inference ---------------------------------------------------------------------------

    def infer(
        self,
        name: str,
        body: bytes,
        header_length: int | None = None,
        content_type: str | None = None,
        *,
        version: str | None = None,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        span: Span | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """Answer one infer request body; returns the response body and its headers.

        `headers` (lowercase names) matter only to routing: its rules and forwarded headers.
        """

        def run() -> _Done[tuple[bytes, dict[str, str]]]:
            self.check_request_size(len(body))
            _check_content_type(content_type, header_length)
            model = self._require_model(name, version)
            if self._router is not None:
                return self._routed(model, body, header_length, headers or {}, span)
            request = decode_request(
                body, header_length, max_json_values=self.config.max_json_values
            )
            outputs, binary, began, ended = self._run(model, request)
            payload, headers_out = _encoded(model, request, outputs, binary)
            return _Done(request.id, (payload, headers_out), began, ended, len(payload))

        return self._observed(name, request_id, len(body), run, span)

    def _routed(
        self,
        model: Model,
        body: bytes,
        header_length: int | None,
        headers: Mapping[str, str],
        span: Span | None = None,
    ) -> _Done[tuple[bytes, dict[str, str]]]:
        """A routed service's answer: its own model's, or a tier's (timed only when run here)."""
        assert self._router is not None
        times: list[float] = []

        def run(model: Model, request: InferRequest) -> tuple[dict[str, np.ndarray], list[str]]:
            outputs, binary, began, ended = self._run(model, request)
            times[:] = (began, ended)
            return outputs, binary

        trace = None if span is None else span.context
        request_id, answer = self._router.infer(
            model, run, _encoded, body, header_length, headers, trace
        )
        if not times:  # a tier answered without this model running
            times[:] = (time.perf_counter(),) * 2
        return _Done(request_id, answer, times[0], times[1], len(answer[0]))

    def infer_object(
        self, name: str, request: Any, *, request_id: str | None = None, nbytes: int | None = None
    ) -> dict[str, Any]:
        """Answer an already-parsed JSON request with the JSON response as a dict."""

        def run() -> _Done[dict[str, Any]]:
            model = self._require_model(name, None)
            if self._router is not None:  # routed exactly as the HTTP path is
                from modelstack_runtime.routing import answer_object, request_body

                body = request_body(request)
                self.check_request_size(len(body))
                ids = {} if request_id is None else {"x-request-id": request_id}
                done = self._routed(model, body, None, ids)
                routed = answer_object(*done.result)
                return _Done(done.request_id, routed, done.infer_start, done.infer_end)
            decoded = decode_request_object(request)
            outputs, _, began, ended = self._run(model, decoded)
            answer = response_object(model.name, model.version, decoded.id, outputs)
            return _Done(decoded.id, answer, began, ended)

        return self._observed(name, request_id, nbytes, run)

    def infer_decoded(
        self, name: str, request: InferRequest, *, nbytes: int | None = None
    ) -> dict[str, np.ndarray]:
        """Run a decoded request (as one observed request); the outputs by name."""

        def run() -> _Done[dict[str, np.ndarray]]:
            outputs, _, began, ended = self._run(self._require_model(name, None), request)
            return _Done(request.id, outputs, began, ended)

        return self._observed(name, request.id, nbytes, run)

    def log_rejected(
        self, name: str, error: InferenceError, nbytes: int, request_id: str | None = None
    ) -> None:
        """Log (and count) a request an adapter refused before it reached :meth:`infer`."""
        start = time.perf_counter()
        self.metrics.started()
        self._finish(request_id, name, error.status, start, nbytes, error, None, None)

    # --- internals ---------------------------------------------------------------------------

    def _run(
        self, model: Model, request: InferRequest
    ) -> tuple[dict[str, np.ndarray], list[str], float, float]:
        validate_inputs(model.signature, request.inputs)
        if not self.config.allow_non_finite:
            for input_name, array in request.inputs.items():
                check_finite(input_name, array)
        if request.outputs is None:
            names = None
            binary = list(model.signature.output_names) if request.binary_data_output else []
        else:
            names = [out.name for out in request.outputs]
            validate_output_names(model.signature, names)
            default = request.binary_data_output
            binary = [
                out.name
                for out in request.outputs
                if (default if out.binary is None else out.binary)
            ]
        began = time.perf_counter()
        outputs = model.infer(request.inputs, names)
        ended = time.perf_counter()
        drift = self.monitoring.drift
        if drift is not None:
            drift.observe(request.inputs, outputs)
        return outputs, binary, began, ended

    def _observed(
        self,
        name: str,
        request_id: str | None,
        nbytes: int | None,
        run: Callable[[], _Done[_T]],
        span: Span | None = None,
    ) -> _T:
        start = time.perf_counter()
        self.metrics.started()
        try:
            done = run()
        except InferenceError as exc:
            self._finish(request_id, name, exc.status, start, nbytes, exc, None, span)
            raise
        except Exception as exc:
            logger.exception("unexpected error while answering an infer request")
            error = InternalError(f"internal error: {type(exc).__name__}")
            self._finish(request_id, name, error.status, start, nbytes, error, None, span)
            raise error from exc
        self._finish(
            done.request_id or request_id, name, HTTPStatus.OK, start, nbytes, None, done, span
        )
        return done.result

    def _finish(
        self,
        request_id: str | None,
        name: str,
        status: HTTPStatus,
        start: float,
        nbytes: int | None,
        error: InferenceError | None,
        done: _Done[Any] | None,
        span: Span | None,
    ) -> None:
        """Count, trace and log one answered request."""
        end = time.perf_counter()
        infer_s = None if done is None else done.infer_end - done.infer_start
        response_bytes = None if done is None else done.response_bytes
        self.metrics.observe(int(status), end - start, infer_s, nbytes, response_bytes)
        if span is not None:
            began, ended = (0.0, 0.0) if done is None else (done.infer_start, done.infer_end)
            span.finish(start, began, ended, end, int(status))
        emf = None
        if self._emf_namespace is not None:
            emf = emf_request_fields(int(status), infer_s, nbytes, response_bytes)
        self._log(request_id, name, status, start, nbytes, error, emf)

    def _check_name(self, name: str, version: str | None) -> None:
        config = self.config
        if name != config.model_name:
            raise ModelNotFound(f"unknown model {name!r}; this server serves {config.model_name!r}")
        if version is not None and version != config.model_version:
            raise ModelNotFound(
                f"model {name!r} has no version {version!r}; "
                f"this server serves version {config.model_version!r}"
            )

    def _require_model(self, name: str, version: str | None) -> Model:
        self._check_name(name, version)
        model = self._model
        if model is None or not self._ready.is_set():
            raise ModelNotReady(f"model {name!r} is loading; retry when /v2/health/ready is 200")
        return model

    def _log(
        self,
        request_id: str | None,
        name: str,
        status: HTTPStatus,
        start: float,
        nbytes: int | None,
        error: InferenceError | None,
        emf: str | None = None,
    ) -> None:
        if _access_sink is None and not access_log.isEnabledFor(logging.INFO):
            return
        latency_ms = round((time.perf_counter() - start) * 1000.0, 3)
        aws: dict[str, Any] | None = None
        if self._emf_namespace is not None:
            aws = {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": self._emf}
        line = access_line(
            request_id=request_id or f"{_ids.getrandbits(64):016x}",
            model=self._model_json if name == self.config.model_name else json_string(name),
            model_version=self._version_json,
            status=int(status),  # an IntEnum: int() is cheaper than .value
            latency_ms=latency_ms,
            input_bytes=nbytes,
            error=None if error is None else type(error).__name__,
            aws=aws,
            fields=emf,
        )
        sink = _access_sink
        if sink is not None:
            sink(line)
        else:
            access_log.info(line)


def _emit_line(line: str) -> None:
    sink = _access_sink
    if sink is not None:
        sink(line)
    else:
        access_log.info(line)


def _encoded(
    model: Model, request: InferRequest, outputs: dict[str, np.ndarray], binary: list[str]
) -> tuple[bytes, dict[str, str]]:
    payload, length = encode_response(model.name, model.version, request.id, outputs, binary)
    if length is None:
        return payload, dict(_JSON_HEADERS)
    return payload, {"Content-Type": "application/octet-stream", HEADER_LENGTH_HEADER: str(length)}


def _router(config: RuntimeConfig, tracer: Tracer | None = None) -> Router | None:
    """The router of a routed service (imported only then), else None."""
    if config.routing is None:
        return None
    from modelstack_runtime.routing_config import SERVE_ALONE_ENV, routing_config

    if os.environ.get(SERVE_ALONE_ENV) == "1":
        return None
    from modelstack_runtime.routing import Router

    return Router(
        routing_config(config.routing), max_json_values=config.max_json_values, tracer=tracer
    )


def _check_content_type(content_type: str | None, header_length: int | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    allowed = _JSON_TYPES if header_length is None else _BINARY_TYPES
    if media not in allowed:
        if media == "application/octet-stream":
            raise BadRequest(f"a binary body needs the {HEADER_LENGTH_HEADER} header")
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media!r}; send application/json "
            f"(or application/octet-stream with {HEADER_LENGTH_HEADER})"
        )


def load_dataplane(config: RuntimeConfig, *, emf_namespace: str | None = None) -> DataPlane:
    """Load and warm up the model, and return a ready data plane."""
    from modelstack_runtime.model import Model

    model = Model.load(config)
    model.warm_up()
    return DataPlane(model, config, emf_namespace=emf_namespace)
