"""The custom-operator library is found without importing its package, and only when needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnxruntime as ort
import pytest

from modelstack_runtime.errors import ConfigError
from modelstack_runtime.processing import Processing, extensions_library

ROOT = Path(__file__).resolve().parents[2]


def test_finding_the_library_imports_neither_the_package_nor_onnx() -> None:
    code = (
        "import sys; from modelstack_runtime.processing import extensions_library as f; "
        "assert f().endswith('.so'), f(); "
        "print(sorted(m for m in ('onnx', 'onnxruntime_extensions') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_a_missing_library_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install onnxruntime-extensions"):
        extensions_library()


def test_the_library_is_registered_only_for_graphs_that_decode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered: list[str] = []
    monkeypatch.setattr(
        ort.SessionOptions, "register_custom_ops_library", lambda self, p: registered.append(p)
    )
    Processing.from_config({"custom_ops": False, "images": []}).prepare(ort.SessionOptions())
    Processing.from_config(None).prepare(ort.SessionOptions())
    assert registered == []
    Processing.from_config({"custom_ops": True, "images": []}).prepare(ort.SessionOptions())
    assert registered == [extensions_library()]
