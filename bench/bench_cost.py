"""Benchmark of `modelstack cost --measure` on the iris example, on the local Docker engine.

Runs, in one process and one run, on a copy of examples/iris (its state never touches the
checkout; containers on the host network, traffic to 127.0.0.1 only):

* the baseline: `modelstack cost` pricing alone, from a given duration (no Docker);
* `modelstack cost --measure` with the image already built (six memory sizes timed);
* with ``--cold``, the same after removing the image first, so it is built from scratch.

Each `--measure` run must finish in under 120 s (the target); the memory-size table it prints
is shown, then a Markdown table of wall times with the ratio against the baseline.

Usage: ``python bench/bench_cost.py [--base-image IMG] [--ca-bundle FILE] [--cold]``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelstack.cli import main  # noqa: E402

TARGET_S = 120.0


def _timed(argv: list[str]) -> tuple[float, str]:
    out = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"modelstack {' '.join(argv)} exited {code}")
    return seconds, out.getvalue()


def _remove_image(manifest: Path) -> None:
    from modelstack.cost.recorded import latency_path
    from modelstack.image.engine import docker_client
    from modelstack.manifest import load_manifest

    loaded = load_manifest(manifest)
    client = docker_client()
    try:
        for image in client.images.list(name=f"modelstack/{loaded.name}"):
            with contextlib.suppress(Exception):
                client.images.remove(image.id, force=True)
    finally:
        client.close()
    latency_path(loaded, loaded.targets["prod"]).unlink(missing_ok=True)


def main_bench() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base-image",
        default=os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm"),
    )
    parser.add_argument(
        "--ca-bundle",
        default=os.environ.get("MODELSTACK_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"),
    )
    parser.add_argument("--cold", action="store_true", help="also measure from no image")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        bundle = Path(tmp) / "iris"
        shutil.copytree(
            REPO / "examples" / "iris", bundle, ignore=shutil.ignore_patterns(".modelstack")
        )
        manifest = bundle / "modelstack.yaml"
        common = ["cost", str(manifest), "--target", "prod", "--requests-per-month", "3000000"]
        image = ["--base-image", args.base_image, "--ca-bundle", args.ca_bundle]
        rows: list[tuple[str, float]] = []
        baseline, _ = _timed([*common, "--duration-ms", "1"])
        rows.append(("`modelstack cost` (pricing only, the baseline)", baseline))
        runs = [("image removed first", True)] if args.cold else []
        runs.append(("image built", False))
        table = ""
        for label, cold in runs:
            if cold:
                _remove_image(manifest)
            seconds, output = _timed([*common, "--measure", *image])
            table = output.split("\n\n")[0]
            rows.append((f"`modelstack cost --measure` ({label})", seconds))
    print(table)
    print()
    print("| run | wall time | ratio to baseline | target |")
    print("|---|---:|---:|---|")
    for name, seconds in rows:
        ratio = f"{seconds / baseline:.0f}x" if seconds is not rows[0][1] else ""
        target = f"under {TARGET_S:.0f} s: {'met' if seconds < TARGET_S else 'MISSED'}"
        print(f"| {name} | {seconds:.1f} s | {ratio} | {target if 'measure' in name else ''} |")
    return 0 if all(s < TARGET_S for _, s in rows) else 1


if __name__ == "__main__":
    sys.exit(main_bench())
