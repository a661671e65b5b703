"""A model over protobuf's 2 GiB ceiling, its weights as external data inside the bundle:
the build context holds the weights once, the runtime maps them (zero-copy) and answers the
smoke test. No image is built: a 2 GiB layer would take minutes on a small CI machine, and
the context is exactly what the image's COPY receives."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
from imagefixtures import BASE_IMAGE
from packmodels import GATHER_ROWS, GATHER_WIDTH, write_large_bundle

from modelstack.image.context import render_context
from modelstack.image.flavours import flavour_for
from modelstack.manifest import load_manifest
from modelstack.smoke.compare import compare_outputs
from modelstack.smoke.local import prepare_local
from modelstack_runtime.model import Model

TABLE_BYTES = GATHER_ROWS * GATHER_WIDTH * 4


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_a_model_over_2_gib_is_packed_once_and_loaded_zero_copy(tmp_path: Path) -> None:
    assert TABLE_BYTES > 2 * 1024**3
    bundle_dir = tmp_path / "lookup"
    try:
        manifest = load_manifest(write_large_bundle(bundle_dir))
        bundle = prepare_local(manifest)
        flavour = flavour_for(manifest.targets["local"])
        context = render_context(manifest, "local", flavour, bundle, base_image=BASE_IMAGE)
        model_files = {n: c for n, c in context.files.items() if n.startswith("model/")}
        assert sorted(model_files) == ["model/model.onnx", "model/model.weights"]
        sizes = {n: Path(str(c)).stat().st_size for n, c in model_files.items()}
        assert sizes["model/model.weights"] == TABLE_BYTES  # one tensor, at offset 0
        assert sizes["model/model.onnx"] < 4096
        # Nothing else in the context is large: the shipped weights.bin is not in it.
        others = [c for n, c in context.files.items() if n not in model_files]
        assert all(isinstance(c, bytes) and len(c) < 1024 * 1024 for c in others)
        dockerfile = context.files["Dockerfile"].decode()  # type: ignore[union-attr]
        assert dockerfile.count("COPY model/ ") == 1  # into the final stage, once
        assert context.fast_start is not None
        packed = context.fast_start.packed
        config = dataclasses.replace(
            bundle.config,
            model_path=str(packed.graph),
            disable_prepacking=context.fast_start.prepacking.disable,
        )
        before = _rss_bytes()
        model = Model.load(config)
        grown = _rss_bytes() - before
        assert grown < 256 * 1024**2, f"loading grew the process by {grown} bytes"
        case = bundle.cases[0]
        outputs = model.infer(case.inputs)
        assert not compare_outputs(case.test.expected_outputs, outputs)
        np.testing.assert_array_equal(outputs["rows"][1], np.full(GATHER_WIDTH, GATHER_ROWS - 1))
    finally:
        shutil.rmtree(bundle_dir, ignore_errors=True)
