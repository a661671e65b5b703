"""Producing an optimised candidate model: int8 (dynamic or static QDQ) or FP16.

Each method reads the original and writes the candidate into a scratch folder; nothing here
touches the bundle. onnxruntime.quantization and onnxconverter_common are imported when a
method runs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from modelstack.errors import EvaluationError, MissingDependencyError

__all__ = ["CALIBRATION_ROWS", "METHODS", "optimise"]

CALIBRATION_ROWS = 512
"""Rows of calibration data read by static-int8 (the first ones of the calibration set)."""

Calibration = Sequence[dict[str, np.ndarray]]
"""Input batches, by input name."""


def _pre_process(source: Path, scratch: Path) -> Path:
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = scratch / "prepared.onnx"
    try:
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    except Exception as exc:
        raise EvaluationError(f"quant_pre_process failed on {source.name}: {exc}") from None
    return prepared


def _dynamic_int8(source: Path, dest: Path, scratch: Path, _: Calibration | None) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    prepared = _pre_process(source, scratch)
    quantize_dynamic(str(prepared), str(dest), weight_type=QuantType.QInt8, per_channel=False)


class _Reader:
    """A CalibrationDataReader over evaluation batches."""

    def __init__(self, batches: Calibration) -> None:
        self._batches: Iterator[dict[str, np.ndarray]] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


def _static_int8(source: Path, dest: Path, scratch: Path, calibration: Calibration | None) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not calibration:
        raise EvaluationError("static-int8 needs calibration data (--calibration or a data set)")
    reader: Any = type("Reader", (_Reader, CalibrationDataReader), {})(calibration)
    prepared = _pre_process(source, scratch)
    quantize_static(
        str(prepared),
        str(dest),
        reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
        # The per-channel weight-scale adjustment for int32 biases fails on 2-D MatMul weights
        # in onnxruntime 1.2x-1.3x; the biases are quantised with the unadjusted scales.
        extra_options={"QDQDisableWeightAdjustForInt32Bias": True},
    )


def _fp16(source: Path, dest: Path, scratch: Path, _: Calibration | None) -> None:
    import onnx

    try:
        from onnxconverter_common import float16
    except ImportError:
        raise MissingDependencyError("optimize --method fp16", "optimize") from None
    model = onnx.load(str(source))
    with warnings.catch_warnings():
        # One warning per weight clipped to FP16's range; the evaluation measures the effect.
        warnings.filterwarnings("ignore", category=UserWarning, module="onnxconverter_common")
        converted = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(converted, str(dest))


METHODS: dict[str, Callable[[Path, Path, Path, Calibration | None], None]] = {
    "dynamic-int8": _dynamic_int8,
    "static-int8": _static_int8,
    "fp16": _fp16,
}


def optimise(
    method: str, source: Path, dest: Path, scratch: Path, calibration: Calibration | None
) -> None:
    """Write the `method` candidate of `source` to `dest`."""
    try:
        produce = METHODS[method]
    except KeyError:
        raise EvaluationError(
            f"unknown method '{method}'; use one of {', '.join(METHODS)}"
        ) from None
    produce(source, dest, scratch, calibration)
    if not dest.is_file():
        raise EvaluationError(f"{method} produced no model")
