"""The model: one ``onnxruntime.InferenceSession`` per process, its signature, and warm-up."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import onnxruntime as ort

from modelstack_runtime.codec import decode_request_object
from modelstack_runtime.config import RuntimeConfig
from modelstack_runtime.datatypes import V2_TO_NUMPY
from modelstack_runtime.errors import BadRequest, ConfigError, InternalError, RuntimeFault
from modelstack_runtime.processing import Processing
from modelstack_runtime.signature import Signature, TensorSpec
from modelstack_runtime.validation import validate_inputs

__all__ = ["Model", "WarmupFailed", "optimize_model", "session_options"]

logger = logging.getLogger("modelstack_runtime")

_LEVELS: Final = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def session_options(config: RuntimeConfig) -> ort.SessionOptions:
    """Session options from the config (threads, graph optimisation level)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = config.intra_op_threads
    options.inter_op_num_threads = config.inter_op_threads
    options.graph_optimization_level = _LEVELS[config.graph_optimization]
    # Requests arrive over the network, not in a tight loop: idle pool threads that spin after
    # each run only take CPU from the request path (and from other processes on the machine).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if config.disable_prepacking:
        # Measured at build time: without prepacking, weights stay in the memory-mapped
        # external data file instead of being copied at session creation.
        options.add_session_config_entry("session.disable_prepacking", "1")
    Processing.from_config(config.processing).prepare(options)
    return options


def _providers(requested: Sequence[str]) -> list[str]:
    available = set(ort.get_available_providers())
    chosen = [p for p in requested if p in available]
    missing = [p for p in requested if p not in available]
    if missing:
        if "CPUExecutionProvider" not in chosen:
            chosen.append("CPUExecutionProvider")
        logger.warning(
            "execution providers %s are not available in this onnxruntime build; using %s",
            missing,
            chosen,
        )
    return chosen


def optimize_model(config: RuntimeConfig, out_path: str | Path) -> Path:
    """Write the graph-optimised model to ``out_path`` (done at image build time).

    Loading the optimised file with optimisations already applied cuts cold-start time.
    """
    out = Path(out_path)
    options = session_options(config)
    options.optimized_model_filepath = str(out)
    # Keep the fast-start layout: weights in one external file beside the optimised graph.
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", f"{out.stem}.weights"
    )
    options.add_session_config_entry(
        "session.optimized_model_external_initializers_min_size_in_bytes", "1024"
    )
    ort.InferenceSession(
        config.model_path, sess_options=options, providers=_providers(config.execution_providers)
    )
    return out


class WarmupFailed(RuntimeFault):
    """The model failed on its warm-up input (the first smoke test's), so it is never ready."""


class Model:
    """A loaded model. ``infer`` is thread-safe (onnxruntime sessions are)."""

    def __init__(
        self, config: RuntimeConfig, session: ort.InferenceSession, load_seconds: float = 0.0
    ) -> None:
        self.config = config
        self.session = session
        self.load_seconds = load_seconds
        """Seconds the session took to create."""
        self.warmup_seconds: float | None = None
        """Seconds the warm-up took, once it ran."""
        self.processing = Processing.from_config(config.processing)
        self.signature = self.processing.signature(
            Signature(
                inputs=tuple(TensorSpec.from_node_arg(a) for a in session.get_inputs()),
                outputs=tuple(TensorSpec.from_node_arg(a) for a in session.get_outputs()),
            )
        )
        self.name = config.model_name
        self.version = config.model_version
        self._string_inputs = frozenset(
            spec.name
            for spec in self.signature.inputs
            if spec.datatype == "BYTES" and spec.name not in self.processing.image_inputs
        )
        self._all_outputs = list(self.signature.output_names)

    @classmethod
    def load(cls, config: RuntimeConfig) -> Model:
        """Create the session; prefer ``optimized_model_path`` when that file exists."""
        path = config.model_path
        options = session_options(config)
        optimized = config.optimized_model_path
        if optimized and os.path.exists(optimized):
            path = optimized
            # Already optimised at build time: do not spend cold start doing it again.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        if not os.path.exists(path):
            raise ConfigError(f"model file {path} does not exist")
        started = time.perf_counter()
        session = ort.InferenceSession(
            path, sess_options=options, providers=_providers(config.execution_providers)
        )
        return cls(config, session, time.perf_counter() - started)

    def infer(
        self, inputs: Mapping[str, np.ndarray], output_names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Run the model on validated inputs; returns the outputs by name, in order."""
        names = self._all_outputs if output_names is None else list(output_names)
        feed: Mapping[str, np.ndarray] = self.processing.feed(inputs)
        if self._string_inputs:
            feed = {k: _as_text(v) if k in self._string_inputs else v for k, v in inputs.items()}
        try:
            results = self.session.run(names, feed)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise self.processing.bad_request(exc) or InternalError(
                f"inference failed: {exc}"
            ) from exc
        return dict(zip(names, results, strict=True))

    def warm_up(self) -> None:
        """Run ``warmup_request`` (or zeros shaped like the inputs) once before ready, and log
        the load time split (session create, warm-up)."""
        started = time.perf_counter()
        try:
            self._warm_up()
        finally:
            self.warmup_seconds = time.perf_counter() - started
        logger.info(
            "model %s loaded: session create %.3f s, warm-up %.3f s (prepacking %s)",
            self.name,
            self.load_seconds,
            self.warmup_seconds,
            "off" if self.config.disable_prepacking else "on",
        )

    def _warm_up(self) -> None:
        if not self.config.warmup:
            return
        if self.config.warmup_request is not None:
            request = decode_request_object(dict(self.config.warmup_request))
            validate_inputs(self.signature, request.inputs)  # BadRequest: it does not fit
            try:
                self.infer(request.inputs)
            except InternalError as exc:
                raise WarmupFailed(
                    "the model failed on its warm-up input (the first smoke test's): "
                    f"{str(exc).strip()}"
                ) from None
            return
        try:
            self.infer(self.synthetic_inputs())
        except (InternalError, BadRequest) as exc:
            # Zeros are a guess; a model that rejects them is still servable.
            logger.warning("warm-up with zero inputs failed, serving anyway: %s", exc)

    def synthetic_inputs(self) -> dict[str, np.ndarray]:
        """Zero (or empty-string) inputs with every dynamic dimension set to 1."""
        inputs: dict[str, np.ndarray] = {}
        for spec in self.signature.inputs:
            shape = tuple(1 if d == -1 else d for d in spec.shape)
            if spec.datatype == "BYTES":
                inputs[spec.name] = np.full(shape, b"", dtype=object)
            else:
                inputs[spec.name] = np.zeros(shape, dtype=V2_TO_NUMPY[spec.datatype])
        inputs.update(self.processing.synthetic())
        return inputs

    def metadata(self) -> dict[str, Any]:
        """The v2 model metadata document."""
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "onnxruntime_onnx",
            "inputs": [spec.to_metadata() for spec in self.signature.inputs],
            "outputs": [spec.to_metadata() for spec in self.signature.outputs],
        }


def _as_text(array: np.ndarray) -> np.ndarray:
    """onnxruntime wants ``str`` elements in string tensors; v2 BYTES arrive as ``bytes``."""
    flat = array.ravel().tolist()
    try:
        texts = [item.decode() if isinstance(item, bytes) else item for item in flat]
    except UnicodeDecodeError:
        raise BadRequest("string input holds bytes that are not UTF-8") from None
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out.reshape(array.shape)
