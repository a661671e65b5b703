"""Latency from measurement: the built image on the local Docker engine, at each size's CPU.

The target's provider names the memory sizes to time and the CPU share each has on its platform
(`TargetPricing.measure_sizes`: Lambda's CPU grows with memory, a Cloud Run service runs at the
CPU it declares). Each size runs the image as a container limited to that CPU share
(`nano_cpus`) and memory, on the host network bound to 127.0.0.1, and times one-row requests of
the first smoke test: `MEASURE_REQUESTS` after `MEASURE_WARMUP`, stopping early after
`MEASURE_SECONDS_PER_SIZE`. Every target is timed on the HTTP image of the same bundle (the
same runtime and model; Lambda bills the handler's time, not the transport's). A share above
this machine's CPU count is measured at the CPU count, and the table says so. The strategies
match AWS Lambda Power Tuning's: the cheapest size (cost), the fastest (speed), and the lowest
sum of cost and p50 each divided by its largest value (balanced).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from modelstack.cost.prices import PriceTable
from modelstack.cost.pricing import target_pricing
from modelstack.cost.recorded import write_latency
from modelstack.cost.traffic import TrafficProfile
from modelstack.errors import CostError, SmokeTestError
from modelstack.manifest.model import LocalTarget, Manifest, Target

__all__ = [
    "MEASURE_REQUESTS",
    "Measurement",
    "SizeTiming",
    "measure_target",
    "percentile",
    "strategies",
]

MEASURE_REQUESTS: Final = 60
MEASURE_WARMUP: Final = 5
MEASURE_SECONDS_PER_SIZE: Final = 8.0
START_TIMEOUT_S: Final = 60.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


@dataclass(frozen=True)
class SizeTiming:
    memory_mb: int
    vcpus: float
    """The share this size has on the platform."""
    applied_vcpus: float
    """The limit the container ran with (at most this machine's CPU count)."""
    p50_ms: float
    p99_ms: float
    init_ms: float
    requests: int
    usd_per_million: float


@dataclass(frozen=True)
class Measurement:
    image: str
    sizes: tuple[SizeTiming, ...]
    picks: dict[str, int]
    """Strategy name -> memory size."""
    target_memory_mb: int | None

    def _chosen(self) -> SizeTiming:
        for size in self.sizes:
            if size.memory_mb == self.target_memory_mb:
                return size
        return self.sizes[0]

    def duration_for(self, target: Target) -> float:
        """The p50 at the target's size."""
        return self._chosen().p50_ms

    def init_for(self) -> float:
        """The cold start at the target's size."""
        return self._chosen().init_ms

    def to_dict(self) -> dict[str, Any]:
        rows = [size.__dict__ for size in self.sizes]
        chosen = next((r for r in rows if r["memory_mb"] == self.target_memory_mb), rows[0])
        return {
            "image": self.image,
            "sizes": rows,
            "strategies": self.picks,
            "target_p50_ms": chosen["p50_ms"],
            "target_init_ms": chosen["init_ms"],
        }

    def table(self) -> str:
        head = ("MEMORY", "vCPU", "LIMIT", "p50 ms", "p99 ms", "INIT ms", "$/1M req", "BEST FOR")
        rows = [head]
        for s in self.sizes:
            best = ",".join(k for k, v in self.picks.items() if v == s.memory_mb)
            limit = f"{s.applied_vcpus:.2f}" + ("*" if s.applied_vcpus < s.vcpus - 1e-9 else "")
            rows.append(
                (
                    f"{s.memory_mb} MB",
                    f"{s.vcpus:.2f}",
                    limit,
                    f"{s.p50_ms:.2f}",
                    f"{s.p99_ms:.2f}",
                    f"{s.init_ms:.0f}",
                    f"{s.usd_per_million:.2f}",
                    best,
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        lines.insert(0, f"Measured {self.image} on this machine ({os.cpu_count()} CPUs):")
        if any(s.applied_vcpus < s.vcpus - 1e-9 for s in self.sizes):
            lines.append("* limited to this machine's CPU count")
        return "\n".join(lines)


def strategies(sizes: Sequence[SizeTiming]) -> dict[str, int]:
    """The memory size each Power Tuning strategy picks."""
    cost = min(sizes, key=lambda s: (s.usd_per_million, s.memory_mb))
    speed = min(sizes, key=lambda s: (s.p50_ms, s.memory_mb))
    top_cost = max(s.usd_per_million for s in sizes) or 1.0
    top_time = max(s.p50_ms for s in sizes) or 1.0
    balanced = min(
        sizes,
        key=lambda s: (0.5 * s.usd_per_million / top_cost + 0.5 * s.p50_ms / top_time, s.memory_mb),
    )
    return {"cost": cost.memory_mb, "speed": speed.memory_mb, "balanced": balanced.memory_mb}


def measure_target(
    manifest: Manifest,
    target: Target,
    profile: TrafficProfile,
    *,
    overrides: list[PriceTable] | None = None,
    sizes: Sequence[int] | None = None,
    base_image: str | None = None,
    ca_bundle: str | None = None,
) -> Measurement:
    """Build the image, time it at each size, record the result beside the manifest.

    `sizes` replaces the provider's memory sizes where the platform lets memory vary."""
    from modelstack.deploy.pipeline import BuildOptions, build_step
    from modelstack.deploy.progress import Progress
    from modelstack.image.engine import docker_client
    from modelstack.smoke.local import prepare_local

    pricing = target_pricing(target)
    bundle = prepare_local(manifest)
    if not bundle.cases:
        raise CostError(f"{manifest.path}: --measure times the first smoke test; add one")
    case = bundle.cases[0]
    http = LocalTarget(name=target.name, flavour="http")
    options = BuildOptions(
        base_image or os.environ.get("MODELSTACK_BASE_IMAGE"),
        ca_bundle or os.environ.get("MODELSTACK_CA_BUNDLE"),
        None,
    )
    client = docker_client()
    try:
        image = build_step(client, manifest, http, bundle, options, Progress(quiet=True))
        plan = pricing.measure_sizes(sizes)
        usd_per_million = pricing.measure_cost(overrides or [])
        timings = []
        for memory_mb, vcpus in plan:
            p50, p99, init, count, applied = _time_size(
                client, image.tag, manifest.name, case.inputs, memory_mb, vcpus
            )
            timings.append(
                SizeTiming(
                    memory_mb,
                    round(vcpus, 3),
                    round(applied, 3),
                    round(p50, 3),
                    round(p99, 3),
                    round(init, 1),
                    count,
                    round(usd_per_million(memory_mb, p50), 4),
                )
            )
    finally:
        client.close()
    result = Measurement(image.tag, tuple(timings), strategies(timings), pricing.size_mb)
    write_latency(manifest, target, result.to_dict())
    return result


def _time_size(
    client: Any, image: str, model: str, inputs: Any, memory_mb: int, vcpus: float
) -> tuple[float, float, float, int, float]:
    """p50, p99, init (ms), requests timed, and the CPU limit the engine reports it applied."""
    from modelstack.image.containers import free_port, run_container
    from modelstack.smoke.clients import HttpClient, InferenceFailed

    applied = min(vcpus, float(os.cpu_count() or 1))
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port)}
    with run_container(
        client,
        image,
        environment=env,
        name_prefix="modelstack-cost",
        nano_cpus=int(applied * 1e9),
        mem_limit_mb=max(memory_mb, 256),
    ) as running:
        host = client.api.inspect_container(running.id)["HostConfig"]
        engine_cpus = float(host.get("NanoCpus") or 0) / 1e9
        http = HttpClient(f"http://127.0.0.1:{port}", model, timeout_s=30.0)
        try:
            init = _first_answer(running, http, inputs)
            for _ in range(MEASURE_WARMUP):
                http.infer(inputs)
            times: list[float] = []
            deadline = time.monotonic() + MEASURE_SECONDS_PER_SIZE
            while len(times) < MEASURE_REQUESTS and time.monotonic() < deadline:
                started = time.perf_counter()
                http.infer(inputs)
                times.append((time.perf_counter() - started) * 1000.0)
        except InferenceFailed as exc:
            raise SmokeTestError(f"{image} at {memory_mb} MB failed a request: {exc}") from None
        finally:
            http.close()
    return percentile(times, 50), percentile(times, 99), init, len(times), engine_cpus


def _first_answer(running: Any, http: Any, inputs: Any) -> float:
    """Milliseconds from the container's start to its first answer (a cold start)."""
    from modelstack.polling import poll_until
    from modelstack.smoke.clients import InferenceFailed

    def answered() -> bool:
        try:
            http.infer(inputs)
            return True
        except (InferenceFailed, OSError):
            http.close()
            if running.exited.is_set():
                raise SmokeTestError(
                    f"the container exited with code {running.exit_code}:\n{running.logs(20)}"
                ) from None
            return False

    if not poll_until(answered, START_TIMEOUT_S, 0.02):
        raise SmokeTestError(f"the container did not answer within {START_TIMEOUT_S:g} s")
    return float((time.perf_counter() - running.started_at) * 1000.0)
