"""Benchmark of `modelstack build` on the iris example, on the local Docker engine.

Measures, in one run (containers on the host network, traffic to 127.0.0.1 only):

* a rebuild after changing only the runtime code (target < 5 s);
* the decision that an unchanged bundle needs no build: load the manifest, verify the model,
  render the context, hash it, look the tag up (target < 1 s, and no build);
* the same decision after a git commit that only changes `targets:` (no build; the ratio is
  against the unchanged-bundle decision above);
* the final image size against the base image plus 1.2x the installed size of onnxruntime,
  numpy and the model (installed sizes measured with `du -sb` inside the image, on the
  dependency folder copied unchanged from the builder stage);
* container cold start (container start -> first successful inference) against a floor
  measured in the same run: the same image running a minimal `python3 -c` that imports
  onnxruntime, creates the session and runs it once (container start -> exit); target <= 1.2x.

Usage: ``python bench/bench_build.py [--base-image IMG] [--ca-bundle FILE] [--runs N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelstack.image import context as image_context  # noqa: E402
from modelstack.image.builder import BuiltImage, ensure_image, find_image  # noqa: E402
from modelstack.image.container_smoke import smoke_test_image  # noqa: E402
from modelstack.image.containers import run_container  # noqa: E402
from modelstack.image.engine import docker_client  # noqa: E402
from modelstack.image.flavours import flavour_for  # noqa: E402
from modelstack.manifest import load_manifest  # noqa: E402
from modelstack.smoke.local import prepare_local  # noqa: E402

FLOOR_SCRIPT = (
    "import numpy as np, onnxruntime as ort; "
    "s = ort.InferenceSession('/opt/modelstack/model/model.onnx', "
    "providers=['CPUExecutionProvider']); "
    "s.run(None, {'float_input': np.zeros((1, 4), dtype=np.float32)})"
)
MAX_WAIT_S = 120.0


def build_target(
    manifest_path: Path,
    target: str,
    base_image: str,
    ca_bundle: Path | None,
    runtime_source: Path | None = None,
) -> tuple[BuiltImage, float]:
    """Decide (and build when needed) like `modelstack build`; returns the image and seconds."""
    started = time.perf_counter()
    manifest = load_manifest(manifest_path)
    flavour = flavour_for(manifest.targets[target])
    context = image_context.render_context(
        manifest, target, flavour, prepare_local(manifest),
        base_image=base_image, ca_bundle=ca_bundle, runtime_source=runtime_source,
    )  # fmt: skip
    client = docker_client()
    try:
        image = ensure_image(client, context)
    finally:
        client.close()
    return image, time.perf_counter() - started


def targets_only_commit(bundle: Path) -> subprocess.CompletedProcess[str]:
    """Put `bundle` in a fresh git repository, then commit a change to `targets:` only."""
    script = (
        "git init -q && git add -A && git commit -qm first && "
        "sed -i 's/^    port: 8080$/    port: 18080/' modelstack.yaml && "
        "grep -q 'port: 18080' modelstack.yaml && git commit -qam 'targets only'"
    )
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip
    return subprocess.run(["sh", "-c", script], cwd=bundle, env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def floor_seconds(client: Any, image: str) -> float:
    """Container start -> exit of the minimal onnxruntime script in `image`."""
    with run_container(
        client, image, entrypoint=["python3", "-c", FLOOR_SCRIPT], command=[],
        name_prefix="modelstack-bench",
    ) as running:  # fmt: skip
        status = running.container.wait(timeout=MAX_WAIT_S)
        elapsed = time.perf_counter() - running.started_at
        if status.get("StatusCode") != 0:
            raise SystemExit(f"the floor script failed in {image}:\n{running.logs()}")
        return elapsed


def installed_bytes(client: Any, image: str) -> dict[str, int]:
    """`du -sb` of onnxruntime, numpy (+ numpy.libs) and the model inside the image."""
    script = (
        "du -sb /opt/modelstack/site/onnxruntime /opt/modelstack/site/numpy "
        "/opt/modelstack/site/numpy.libs /opt/modelstack/model"
    )
    output = client.containers.run(
        image, [], entrypoint=["sh", "-c", script], network_mode="host", remove=True
    )
    sizes: dict[str, int] = {}
    for line in output.decode().splitlines():
        size, path = line.split("\t")
        sizes[Path(path).name] = int(size)
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-image", default="modelstack/base-python:bookworm")
    parser.add_argument("--ca-bundle", type=Path, help="CA bundle for pip in the builder stage")
    parser.add_argument("--runs", type=int, default=5, help="cold-start runs per image (1-20)")
    args = parser.parse_args()
    runs = max(1, min(args.runs, 20))
    client = docker_client()
    rows: list[tuple[str, str, str, str]] = []

    with tempfile.TemporaryDirectory(prefix="modelstack-bench-") as tmp:
        bundle = Path(tmp) / "iris"
        shutil.copytree(REPO / "examples" / "iris", bundle)
        manifest_path = bundle / "modelstack.yaml"
        manifest = load_manifest(manifest_path)
        cases = prepare_local(manifest).cases

        first, seconds = build_target(manifest_path, "local", args.base_image, args.ca_bundle)
        print(f"first build: {first.tag} ({'built' if first.built else 'cached'}, "
              f"{seconds:.1f} s)", file=sys.stderr)  # fmt: skip

        # 1. Rebuild after a runtime code change only (a comment, so the image still works).
        code = Path(tmp) / "modelstack_runtime"
        shutil.copytree(image_context.runtime_package_dir(), code,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        logs = code / "logs.py"
        logs.write_text(logs.read_text() + f"\n# bench {uuid.uuid4().hex}\n")
        rebuilt, rebuild_s = build_target(
            manifest_path, "local", args.base_image, args.ca_bundle, runtime_source=code
        )
        assert rebuilt.built, "a runtime code change must produce a new image"
        rows.append(("rebuild after a runtime code change", f"{rebuild_s:.2f} s", "< 5 s",
                     _ok(rebuild_s < 5)))  # fmt: skip
        client.images.remove(rebuilt.tag)

        # 2. Unchanged bundle: decide without building.
        decisions = []
        for _ in range(3):
            again, decide_s = build_target(manifest_path, "local", args.base_image, args.ca_bundle)
            assert not again.built, "an unchanged bundle must not be rebuilt"
            decisions.append(decide_s)
        decide = statistics.median(decisions)
        rows.append(("unchanged bundle: decide, no build (median of 3)", f"{decide:.3f} s",
                     "< 1 s", _ok(decide < 1)))  # fmt: skip

        # 2b. A commit that only changes `targets:` (the revision label moves): still no build.
        targets_only = targets_only_commit(bundle)
        assert targets_only.returncode == 0, targets_only.stderr
        commit_decide, commit_built = [], []
        for _ in range(3):
            again, decide_s = build_target(manifest_path, "local", args.base_image, args.ca_bundle)
            commit_built.append(again.built)
            commit_decide.append(decide_s)
        after_commit = statistics.median(commit_decide)
        rows.append(("after a targets-only commit: decide (median of 3; x unchanged)",
                     f"{after_commit:.3f} s ({after_commit / decide:.2f}x)",
                     "no build", _ok(not any(commit_built))))  # fmt: skip

        # 3. Size against base + 1.2x (onnxruntime + numpy + model).
        base = find_image(client, args.base_image)
        assert base is not None, f"base image {args.base_image} is not present"
        sizes = installed_bytes(client, first.tag)
        payload = sum(sizes.values())
        budget = int(base["Size"]) + 1.2 * payload
        rows.append((
            f"iris image size (base {_mib(int(base['Size']))}, onnxruntime "
            f"{_mib(sizes['onnxruntime'])}, numpy {_mib(sizes['numpy'] + sizes['numpy.libs'])},"
            f" model {sizes['model']} B)",
            _mib(first.size_bytes), f"<= {_mib(int(budget))}", _ok(first.size_bytes <= budget),
        ))  # fmt: skip

        # 4. Cold start against the floor, both flavours, paired runs.
        for target in ("local", "prod"):
            image, _ = build_target(manifest_path, target, args.base_image, args.ca_bundle)
            protocol = flavour_for(manifest.targets[target]).protocol
            colds, floors = [], []
            for _ in range(runs):
                result = smoke_test_image(client, image.tag, protocol, cases, manifest.name)
                assert result.report.passed
                colds.append(result.cold_start_s)
                floors.append(floor_seconds(client, image.tag))
            cold, floor = statistics.median(colds), statistics.median(floors)
            label = "Lambda (local runtime API)" if protocol == "lambda" else "HTTP"
            rows.append((f"cold start, {label}: start -> first inference (median of {runs})",
                         f"{cold:.3f} s", "", ""))  # fmt: skip
            rows.append((f"floor: same image, minimal onnxruntime script (median of {runs})",
                         f"{floor:.3f} s", "", ""))  # fmt: skip
            rows.append((f"cold start / floor, {label}", f"{cold / floor:.2f}x", "<= 1.2x",
                         _ok(cold / floor <= 1.2)))  # fmt: skip

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
