"""Benchmark of `modelstack optimize` on examples/digits-mlp (a 4.5 MB MLP on 8x8 digits).

For each method (default: dynamic-int8) the candidate and the FP32 original are evaluated in
the same run, through the runtime's data plane in this process, on the example's held-out set
(450 rows), with one-row latency measured interleaved (`latency_runs` requests each), so that
a busy moment on the machine slows both alike. Each round is a fresh `optimize --dry-run` on a
copy of the example; the table shows the median over the rounds.

Targets for dynamic-int8 on an MLP of a few MB: size <= 0.3x the FP32 model, accuracy drop
<= 0.5 points. Latency is reported, not targeted: whether int8 is faster depends on the CPU.
Nothing leaves the machine.

Usage: ``python bench/bench_optimize.py [--methods dynamic-int8,static-int8,fp16]
[--rounds N] [--latency-runs N]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits-mlp"
sys.path.insert(0, str(REPO))

from modelstack.optimize import optimize_manifest  # noqa: E402

SIZE_TARGET = 0.3
DROP_TARGET_POINTS = 0.5


def one_round(method: str, latency_runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-optimize-") as tmp:
        bundle = Path(tmp) / "digits-mlp"
        shutil.copytree(EXAMPLE, bundle, ignore=shutil.ignore_patterns(".modelstack"))
        manifest = bundle / "modelstack.yaml"
        text = manifest.read_text(encoding="utf-8")
        text = text.replace("  top_k: 2\n", f"  top_k: 2\n  latency_runs: {latency_runs}\n")
        manifest.write_text(text, encoding="utf-8")
        result = optimize_manifest(str(manifest), method=method, dry_run=True).result
    base, cand = result.baseline, result.candidate
    assert base is not None
    return {
        "fp32_mb": base.size_mb,
        "mb": cand.size_mb,
        "fp32_p50": base.p50_ms,
        "p50": cand.p50_ms,
        "fp32_p99": base.p99_ms,
        "p99": cand.p99_ms,
        "fp32_acc": base.metrics["accuracy"],
        "acc": cand.metrics["accuracy"],
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", default="dynamic-int8")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-runs", type=int, default=500)
    args = parser.parse_args(argv)
    print(f"examples/digits-mlp, {args.rounds} rounds, {args.latency_runs} one-row requests "
          "each; median over rounds\n")  # fmt: skip
    print("| model | size | p50 | p99 | accuracy | size ratio | p50 ratio | accuracy change |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    ok = True
    for method in args.methods.split(","):
        rounds = [one_round(method, args.latency_runs) for _ in range(args.rounds)]

        def med(key: str, rounds: list[dict[str, float]] = rounds) -> float:
            return statistics.median(r[key] for r in rounds)

        print(f"| FP32 (baseline) | {med('fp32_mb'):.2f} MB | {med('fp32_p50'):.3f} ms | "
              f"{med('fp32_p99'):.3f} ms | {med('fp32_acc'):.4f} | | | |")  # fmt: skip
        size_ratio = med("mb") / med("fp32_mb")
        p50_ratio = statistics.median(r["p50"] / r["fp32_p50"] for r in rounds)
        change = (med("acc") - med("fp32_acc")) * 100 + 0.0  # + 0.0: no "-0.00"
        drop = -change
        size_ok = size_ratio <= SIZE_TARGET or method == "fp16"
        target = "" if method == "fp16" else f" (target {SIZE_TARGET}x)"
        ok = ok and size_ok and drop <= DROP_TARGET_POINTS
        print(f"| {method} | {med('mb'):.2f} MB | {med('p50'):.3f} ms | {med('p99'):.3f} ms | "
              f"{med('acc'):.4f} | {size_ratio:.2f}x{target} | {p50_ratio:.2f}x | "
              f"{change:+.2f} points (target >= -{DROP_TARGET_POINTS}) |")  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
