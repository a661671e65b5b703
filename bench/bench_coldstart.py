"""Benchmark of fast cold starts: the packed model in the image against the model as shipped.

For a deterministic ~200 MB FP32 MLP (three 4096 x 4096 MatMul layers, generated here, no
download) and for the iris example, in one run (containers on the host network, traffic to
127.0.0.1 only):

* container start -> first successful inference of the built image (packed model, the
  runtime, HTTP), against a baseline measured in the same run: the same image with the
  shipped model file added, running a minimal `python3 -c` that imports onnxruntime, creates a
  session on the model as shipped and runs it once (container start -> exit); target <= 0.35x
  for the MLP, and not slower (<= 1.0x) for iris;
* p50 inference latency of the packed model with the build's session options against the
  shipped model with onnxruntime's defaults, in this process on the same inputs; <= 1.05x;
* the image size against today's layout (the same image with the shipped model in place of
  the packed files: base + dependencies + model), in bytes; the packed graph's references to
  its weights file cost a few bytes per tensor, so the target is <= 1.0001x.

Usage: ``python bench/bench_coldstart.py [--base-image IMG] [--ca-bundle FILE] [--runs N]``
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelstack.image.builder import build_image, ensure_image  # noqa: E402
from modelstack.image.container_smoke import smoke_test_image  # noqa: E402
from modelstack.image.containers import run_container  # noqa: E402
from modelstack.image.context import BuildContext, render_context  # noqa: E402
from modelstack.image.engine import docker_client  # noqa: E402
from modelstack.image.flavours import flavour_for  # noqa: E402
from modelstack.manifest import load_manifest  # noqa: E402
from modelstack.smoke.local import LocalBundle, prepare_local  # noqa: E402
from modelstack_runtime.model import Model  # noqa: E402

WIDTH = 4096
LAYERS = 3
SHIPPED = "/opt/bench/shipped.onnx"
MAX_WAIT_S = 180.0
LATENCY_RUNS = 41
BASELINE_SCRIPT = (
    "import numpy as np, onnxruntime as ort; "
    f"s = ort.InferenceSession('{SHIPPED}', providers=['CPUExecutionProvider']); "
    "i = s.get_inputs()[0]; "
    "s.run(None, {i.name: np.zeros([1 if not isinstance(d, int) else d for d in i.shape], "
    "dtype=np.float32)})"
)


def write_mlp_bundle(directory: Path) -> Path:
    """The ~200 MB MLP (seeded weights, inline as users ship it) with one smoke test."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(20260101)
    inits, nodes, current = [], [], "x"
    for i in range(LAYERS):
        w = rng.standard_normal((WIDTH, WIDTH), dtype=np.float32) / np.float32(64.0)
        inits.append(numpy_helper.from_array(w, f"w{i}"))
        out = f"h{i}" if i < LAYERS - 1 else "y"
        nodes.append(helper.make_node("MatMul", [current, f"w{i}"], [out]))
        current = out
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", WIDTH])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", WIDTH])],
        inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    directory.mkdir(parents=True)
    path = directory / "model.onnx"
    onnx.save_model(model, str(path))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    row = ", ".join(f"{(i % 13) / 13:.3f}" for i in range(WIDTH))
    (directory / "modelstack.yaml").write_text(
        "apiVersion: modelstack.dev/v1\nkind: ModelService\n"
        "metadata: {name: mlp, version: 1.0.0}\n"
        f"model: {{path: model.onnx, sha256: {digest}}}\n"
        "targets:\n  local: {provider: local}\n"
        f"smoke_tests:\n  - name: one-row\n    inputs:\n      x: {{data: [[{row}]]}}\n",
        encoding="utf-8",
    )
    return directory / "modelstack.yaml"


def baseline_image(client: Any, image: str, shipped: Path, work: Path) -> str:
    """`image` with the shipped model added at SHIPPED: the same image, the model as shipped."""
    folder = work / "baseline"
    folder.mkdir()
    shutil.copyfile(shipped, folder / "shipped.onnx")
    (folder / "shipped.onnx").chmod(0o644)
    (folder / "Dockerfile").write_text(f"FROM {image}\nCOPY shipped.onnx {SHIPPED}\n")
    tag = f"{image}-shipped"
    build_image(client, folder, tag)
    return tag


def baseline_seconds(client: Any, image: str) -> float:
    """Container start -> exit of the minimal script on the shipped model."""
    with run_container(
        client, image, entrypoint=["python3", "-c", BASELINE_SCRIPT], command=[],
        name_prefix="modelstack-bench",
    ) as running:  # fmt: skip
        status = running.container.wait(timeout=MAX_WAIT_S)
        elapsed = time.perf_counter() - running.started_at
        if status.get("StatusCode") != 0:
            raise SystemExit(f"the baseline script failed in {image}:\n{running.logs()}")
        return elapsed


def latency_ratio(bundle: LocalBundle, context: BuildContext) -> tuple[float, float]:
    """p50 ms of the shipped model (defaults) and of the packed one (the build's options),
    runs interleaved so that both see the same load on the machine."""
    assert context.fast_start is not None
    feed = bundle.cases[0].inputs
    packed_config = dataclasses.replace(
        bundle.config, model_path=str(context.fast_start.packed.graph),
        disable_prepacking=context.fast_start.prepacking.disable,
    )  # fmt: skip
    models = (Model.load(bundle.config), Model.load(packed_config))
    times: tuple[list[float], list[float]] = ([], [])
    for model in models:
        model.infer(feed)
    for _ in range(LATENCY_RUNS):
        for model, sink in zip(models, times, strict=True):
            started = time.perf_counter()
            model.infer(feed)
            sink.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(
    client: Any, name: str, manifest_path: Path, args: argparse.Namespace, work: Path,
    cold_target: float,
) -> list[tuple[str, str, str, str]]:  # fmt: skip
    manifest = load_manifest(manifest_path)
    bundle = prepare_local(manifest)
    started = time.perf_counter()
    context = render_context(
        manifest, "local", flavour_for(manifest.targets["local"]), bundle,
        base_image=args.base_image, ca_bundle=args.ca_bundle,
    )  # fmt: skip
    pack_s = time.perf_counter() - started
    image = ensure_image(client, context)
    shipped_path = Path(bundle.config.model_path)
    baseline = baseline_image(client, image.tag, shipped_path, work)
    colds, floors = [], []
    for _ in range(args.runs):
        result = smoke_test_image(client, image.tag, "http", bundle.cases, manifest.name)
        assert result.report.passed, f"{name}: smoke tests failed in the packed image"
        colds.append(result.cold_start_s)
        floors.append(baseline_seconds(client, baseline))
    cold, floor = statistics.median(colds), statistics.median(floors)
    shipped_ms, packed_ms = latency_ratio(bundle, context)
    assert context.fast_start is not None
    packed = context.fast_start.packed
    packed_bytes = sum(p.stat().st_size for p in packed.files)
    today = image.size_bytes - packed_bytes + shipped_path.stat().st_size
    client.images.remove(baseline)
    choice = context.fast_start.prepacking
    return [
        (f"{name}: pack + measure at build (first render)", f"{pack_s:.2f} s", "", ""),
        (f"{name}: prepacking at build, p50 without / with ({choice.p50_ms_without} / "
         f"{choice.p50_ms_prepacked} ms): {choice.reason}", "off" if choice.disable else "on",
         "", ""),
        (f"{name}: packed image, start -> first inference (median of {args.runs})",
         f"{cold:.3f} s", "", ""),
        (f"{name}: baseline, same image, shipped model, minimal script (median of "
         f"{args.runs})", f"{floor:.3f} s", "", ""),
        (f"{name}: cold start / baseline", f"{cold / floor:.2f}x", f"<= {cold_target}x",
         _ok(cold / floor <= cold_target)),
        (f"{name}: p50 inference packed / shipped ({packed_ms:.3f} / {shipped_ms:.3f} ms)",
         f"{packed_ms / shipped_ms:.2f}x", "<= 1.05x", _ok(packed_ms / shipped_ms <= 1.05)),
        (f"{name}: image size against today's layout ({today} B)",
         f"{image.size_bytes} B ({image.size_bytes - today:+d} B)", "<= 1.0001x",
         _ok(image.size_bytes <= today * 1.0001)),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-image", default="modelstack/base-python:bookworm")
    parser.add_argument("--ca-bundle", type=Path, help="CA bundle for pip in the builder stage")
    parser.add_argument("--runs", type=int, default=5, help="cold starts per image (1-20)")
    args = parser.parse_args()
    args.runs = max(1, min(args.runs, 20))
    client = docker_client()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="modelstack-bench-") as tmp:
        work = Path(tmp)
        mlp = write_mlp_bundle(work / "mlp")
        (work / "a").mkdir()
        rows += measure(client, "MLP 201 MB", mlp, args, work / "a", 0.35)
        iris = work / "iris"
        shutil.copytree(REPO / "examples" / "iris", iris,
                        ignore=shutil.ignore_patterns(".modelstack"))  # fmt: skip
        (work / "b").mkdir()
        rows += measure(client, "iris", iris / "modelstack.yaml", args, work / "b", 1.0)
    print("| measurement | value | target | ok |")
    print("|---|---:|---:|:-:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0 if all(row[3] != "no" for row in rows) else 1


def _ok(passed: bool) -> str:
    return "yes" if passed else "no"


def _mib(size: float) -> str:
    return f"{size / 2**20:.1f} MiB"


if __name__ == "__main__":
    raise SystemExit(main())
