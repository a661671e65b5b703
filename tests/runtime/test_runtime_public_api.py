from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import modelstack_runtime

PACKAGE = Path(modelstack_runtime.__file__).parent


def test_all_is_pinned() -> None:
    assert modelstack_runtime.__all__ == [
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


def test_every_exported_name_resolves() -> None:
    for name in modelstack_runtime.__all__:
        assert getattr(modelstack_runtime, name) is not None, name


def test_errors_share_one_root_and_carry_statuses() -> None:
    from modelstack_runtime import errors

    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type):
            assert issubclass(obj, modelstack_runtime.RuntimeFault), name
    assert modelstack_runtime.PayloadTooLarge.status == 413
    assert modelstack_runtime.UnsupportedMediaType.status == 415
    assert modelstack_runtime.ModelNotReady.status == 503


def test_typed_and_self_contained() -> None:
    assert (PACKAGE / "py.typed").exists()
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("modelstack."), path
                assert node.module != "modelstack", path
            if isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] != "modelstack" for a in node.names), path
        assert len(path.read_text().splitlines()) < 450, path


def test_codec_and_server_import_without_onnxruntime() -> None:
    # The CLI can use the codec cheaply, and the server answers liveness before the
    # onnxruntime import.
    code = (
        "import sys; import modelstack_runtime.codec, modelstack_runtime.config; "
        "import modelstack_runtime.http_server; print('onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
