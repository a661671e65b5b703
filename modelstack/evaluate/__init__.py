"""Labelled evaluation: data sets, metrics, gates and reports (`modelstack evaluate`).

`catalog` and `columns` are plain Python (lint reads them); the names below that need numpy or
onnxruntime are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelstack.evaluate.gates import GateResult, check_gates
    from modelstack.evaluate.report import REPORT_FORMATS, comparison_rows, format_evaluation
    from modelstack.evaluate.runner import EvaluationResult, Subject, evaluate_manifest
    from modelstack.evaluate.scoring import ModelScores

__all__ = [
    "REPORT_FORMATS",
    "EvaluationResult",
    "GateResult",
    "ModelScores",
    "Subject",
    "check_gates",
    "comparison_rows",
    "evaluate_manifest",
    "format_evaluation",
]

_LAZY = {
    "GateResult": "modelstack.evaluate.gates",
    "check_gates": "modelstack.evaluate.gates",
    "REPORT_FORMATS": "modelstack.evaluate.report",
    "comparison_rows": "modelstack.evaluate.report",
    "format_evaluation": "modelstack.evaluate.report",
    "EvaluationResult": "modelstack.evaluate.runner",
    "Subject": "modelstack.evaluate.runner",
    "evaluate_manifest": "modelstack.evaluate.runner",
    "ModelScores": "modelstack.evaluate.scoring",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'modelstack.evaluate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
