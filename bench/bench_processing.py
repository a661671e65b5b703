"""Benchmark of declared pre/post-processing: image in, labels out, against doing it by hand.

On the catalog-tagging example (copied to a temporary folder), in one process and one run:

* p50 latency of the full path through the runtime's data plane (a v2 binary request holding
  the encoded image -> header check -> DecodeImage, resize, scale in the graph -> model ->
  softmax, top 3, label names -> encoded response) against the baseline measured in the same
  run: Pillow decode + resize, numpy scaling, the same model with onnxruntime, numpy softmax
  and top 3 (no request encoding at all); goal <= 1.3x;
* the cold-start cost of the onnxruntime-extensions library: creating the compiled graph's
  session (library registered) against creating the model's own session, and the time to find
  and register the library alone;
* the library's installed size against onnxruntime's (what it adds to an image).

Usage: ``python bench/bench_processing.py [--runs N]``
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import onnxruntime as ort  # noqa: E402
from PIL import Image  # noqa: E402

from modelstack.manifest import load_manifest  # noqa: E402
from modelstack.smoke.local import prepare_local  # noqa: E402
from modelstack_runtime import decode_response, encode_binary_request, load_dataplane  # noqa: E402
from modelstack_runtime.processing import extensions_library  # noqa: E402


def p50(fn: Callable[[], object], runs: int) -> float:
    for _ in range(min(20, runs)):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-processing-") as tmp:
        bundle_dir = Path(tmp) / "catalog"
        shutil.copytree(REPO / "examples" / "catalog-tagging", bundle_dir,
                        ignore=shutil.ignore_patterns(".modelstack"))  # fmt: skip
        bundle = prepare_local(load_manifest(bundle_dir / "modelstack.yaml"))
        plane = load_dataplane(bundle.config)
        data = (bundle_dir / "images" / "three.jpg").read_bytes()
        names = (bundle_dir / "labels.txt").read_text(encoding="utf-8").split()
        image = np.empty(1, dtype=object)
        image[0] = data
        raw = ort.InferenceSession(str(bundle_dir / "model.onnx"))

        def full() -> object:
            body, length = encode_binary_request({"image": image}, binary_outputs=False)
            payload, _ = plane.infer("catalog-tagging", body, length, "application/octet-stream")
            return decode_response(payload)["labels"]

        def by_hand() -> object:
            gray = (
                Image.open(io.BytesIO(data)).convert("L").resize((8, 8), Image.Resampling.BILINEAR)
            )
            x = np.asarray(gray, np.float32).reshape(1, 1, 8, 8) / 255
            (logits,) = raw.run(None, {"pixels": x})
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            scores = e / e.sum(axis=1, keepdims=True)
            top = np.argsort(-scores, axis=1)[:, :3]
            return [[names[i] for i in row] for row in top]

        assert [[s.decode() for s in row] for row in full().tolist()] == by_hand()  # type: ignore[attr-defined]
        full_s, hand_s = p50(full, args.runs), p50(by_hand, args.runs)

        def create_compiled() -> object:
            options = ort.SessionOptions()
            options.register_custom_ops_library(extensions_library())
            return ort.InferenceSession(bundle.config.model_path, options)

        def create_raw() -> object:
            return ort.InferenceSession(str(bundle_dir / "model.onnx"))

        def register() -> object:
            ort.SessionOptions().register_custom_ops_library(extensions_library())
            return None

        runs = max(10, args.runs // 20)
        compiled_s, raw_s, register_s = (
            p50(f, runs) for f in (create_compiled, create_raw, register)
        )
    library = Path(extensions_library()).parent
    ort_dir = Path(ort.__file__).parent
    print("| measure | processing | baseline | ratio |")
    print("|---|---|---|---|")
    print(f"| p50 image in -> labels out (ms) | {full_s * 1e3:.3f} | {hand_s * 1e3:.3f} "
          f"(Pillow + numpy + onnxruntime) | {full_s / hand_s:.2f}x |")  # fmt: skip
    print(f"| session create (ms) | {compiled_s * 1e3:.2f} (graph + library) | "
          f"{raw_s * 1e3:.2f} (model alone) | {compiled_s / raw_s:.2f}x |")  # fmt: skip
    print(f"| find + register the library (ms) | {register_s * 1e3:.3f} | - | - |")
    print(f"| installed size (MB) | {folder_bytes(library) / 1e6:.1f} (onnxruntime-extensions) | "
          f"{folder_bytes(ort_dir) / 1e6:.1f} (onnxruntime) | "
          f"{folder_bytes(library) / folder_bytes(ort_dir):.2f}x |")  # fmt: skip


if __name__ == "__main__":
    main()
