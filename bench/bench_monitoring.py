"""Benchmark of what monitoring costs the runtime, measured against the runtime without it.

* p50 of one in-process infer request (``DataPlane.infer``, the iris example's model and a
  one-row JSON body) in three configurations, rounds alternating: monitoring off (the metrics
  calls replaced by no-ops, no drift profile), metrics only, and metrics with drift over the
  iris features (the full monitoring a `monitoring:` manifest gets). Target: full monitoring at
  most +0.05 ms over off.
* the memory of the drift state with 100 watched features (10 bins each, 10 sub-windows):
  the counts arrays and, with tracemalloc, everything the monitor allocates. Target: < 5 MB.

Usage: ``python bench/bench_monitoring.py [--rounds 7] [--requests 3000]``. Loopback is not
even used: everything runs in this process.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelstack_runtime import RuntimeConfig, encode_json_request  # noqa: E402
from modelstack_runtime.dataplane import DataPlane  # noqa: E402
from modelstack_runtime.drift import DriftMonitor, DriftProfile, FeatureBins  # noqa: E402
from modelstack_runtime.model import Model  # noqa: E402

IRIS = REPO / "examples" / "iris"


class _NoMetrics:
    """The baseline: the data plane's metrics calls do nothing."""

    def started(self) -> None:
        return None

    def observe(self, *args: object) -> None:
        return None


def _profile(features: int) -> dict[str, object]:
    edges = tuple(float(i) for i in range(1, 10))
    bins = tuple(FeatureBins(f"x[{i}]", "float_input", i, edges, (0.1,) * 10)
                 for i in range(features))  # fmt: skip
    return DriftProfile(bins, (), window_requests=1000, slices=10, min_rows=1).to_dict()


def _dataplanes() -> dict[str, DataPlane]:
    config = RuntimeConfig(
        model_name="iris", model_version="1", model_path=str(IRIS / "model.onnx"),
        intra_op_threads=1, inter_op_threads=1, warmup=False,
    )  # fmt: skip
    model = Model.load(config)
    off = DataPlane(model, config)
    off.metrics = _NoMetrics()  # type: ignore[assignment]
    metrics = DataPlane(model, config)
    drift = DataPlane(model, dataclasses.replace(config, monitoring=_profile(4)))
    return {"off": off, "metrics": metrics, "metrics + drift": drift}


def _p50_ms(dp: DataPlane, body: bytes, requests: int) -> float:
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        dp.infer("iris", body, None, "application/json")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def latency(rounds: int, requests: int) -> dict[str, float]:
    planes = _dataplanes()
    body = encode_json_request({"float_input": np.array([[5.1, 3.5, 1.4, 0.2]], np.float32)})
    for dp in planes.values():
        _p50_ms(dp, body, 200)  # warm
    per_round: dict[str, list[float]] = {name: [] for name in planes}
    for i in range(rounds):
        order = list(planes) if i % 2 == 0 else list(reversed(planes))
        for name in order:
            per_round[name].append(_p50_ms(planes[name], body, requests))
    return {name: statistics.median(values) for name, values in per_round.items()}


def memory(features: int) -> tuple[int, int]:
    profile = DriftProfile.from_dict(_profile(features))
    rows = np.random.default_rng(0).uniform(0, 10, (64, features))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    monitor = DriftMonitor(profile)
    for _ in range(2000):
        monitor.observe({"float_input": rows}, {})
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return monitor.nbytes, allocated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    p50 = latency(args.rounds, args.requests)
    base = p50["off"]
    print("| data plane, one-row JSON infer | p50 | over off | target |")
    print("|---|---:|---:|---|")
    for name, value in p50.items():
        target = "at most +0.05 ms" if name == "metrics + drift" else ""
        over = f"{value - base:+.4f} ms ({value / base:.2f}x)"
        print(f"| {name} | {value:.4f} ms | {over} | {target} |")
    counts, allocated = memory(100)
    print()
    print("| drift state, 100 watched features | bytes | target |")
    print("|---|---:|---|")
    print(f"| counts (10 sub-windows x 100 features x 10 bins) | {counts:,} | |")
    after = "allocated by the monitor and kept, after 2,000 requests of 64 rows"
    print(f"| {after} | {allocated:,} | < 5 MB |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
