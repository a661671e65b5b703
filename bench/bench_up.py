"""Benchmark of `modelstack up` on the local target (iris example, local Docker engine).

Works on a private copy of examples/iris in a temporary directory, its `local` port set to a
free port and its rollout interval shortened (`interval_s: 2`), and measures, in one run
(containers on the host network, traffic to 127.0.0.1 only):

* a full first `up` (no deploy state) on a warm machine with the base image present
  (target < 60 s), with how many build steps came from the layer cache; then again, after
  `destroy`, with a changed model version, which forces a new image (runtime.json changes);
* a no-change `up`: same digest, nothing to build or deploy (target < 3 s, median of 5);
* a canary rollout (version bump -> new image, steps 10/50/100) under a steady client load on
  the stable endpoint: a bounded client (4 threads, at most 15,000 requests and 60 s) posts the
  iris inference request to `/v2/models/iris/infer` before, during and after the `up`; target:
  zero failed requests (non-200 or connection errors). It reports which revisions answered
  (`X-Modelstack-Revision`);
* the latency the router adds: p50 through the stable endpoint against the same load sent
  straight to the serving revision's container (its port from `routes.json`), in rounds of one
  block per side, the order reversed from round to round; the figure is the median of the
  per-round differences (target: at most 0.2 ms added at p50). A third side in the same
  rounds is `forwarder.py`, a byte forwarder with no HTTP framing in front of the same
  container: what it adds is the floor any proxy in Python pays on this machine (each message
  wakes one more process), and its CPU per paced request beside the router's shows what the
  router's own work costs on a CPU that was idle;
* the router's throughput: the same client unpaced, in the same kind of rounds; the figure is
  the median of the per-round ratios (target: at least 0.8x the direct requests per second);
* the router's CPU per request in those rounds (user and system time of its process), beside
  the cores' time per direct request, which bounds the ratio while the cores are the limit.

It always runs `modelstack destroy` at the end (also on Ctrl-C) and removes the images this
run built for its bumped versions.

``--router-only`` runs one `up` and then only the router comparison, so that figure can be
rerun in about a minute.

Usage: ``python bench/bench_up.py [--base-image IMG] [--ca-bundle FILE] [--rate N]
[--router-only] [--rounds N] [--block-s S]``
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "iris"
UP_TIMEOUT_S = 300.0
BODY = json.dumps(
    {
        "inputs": [
            {
                "name": "float_input",
                "datatype": "FP32",
                "shape": [1, 4],
                "data": [5.1, 3.4, 1.5, 0.2],
            }
        ]
    }
).encode()
HEADERS = {"Content-Type": "application/json"}


# --- the private copy of the example ---------------------------------------------------------


def prepare_copy(root: Path, name: str, port: int, interval_s: int) -> Path:
    bundle = root / name
    shutil.copytree(EXAMPLE, bundle, ignore=shutil.ignore_patterns(".modelstack", "__pycache__"))
    manifest = bundle / "modelstack.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = _sub_once(r"(?m)^(    port: )\d+$", rf"\g<1>{port}", text)
    text = _sub_once(r"(?m)^(  interval_s: )\d+$", rf"\g<1>{interval_s}", text)
    text = _sub_once(r"(?m)^(  name: )iris$", rf"\g<1>{name}", text)
    # The copy lives elsewhere: point the editor comment at the schema in this repository.
    schema = (REPO / "schemas" / "modelstack.v1.schema.json").as_uri()
    text = re.sub(r"\$schema=\S+", f"$schema={schema}", text)
    manifest.write_text(text, encoding="utf-8")
    return manifest


def set_version(manifest: Path, version: str) -> None:
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(_sub_once(r"(?m)^(  version: )\S+$", rf"\g<1>{version}", text))


def _sub_once(pattern: str, replacement: str, text: str) -> str:
    result, count = re.subn(pattern, replacement, text, count=1)
    if count != 1:
        raise SystemExit(f"examples/iris/modelstack.yaml has no line matching {pattern!r}")
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- modelstack commands ---------------------------------------------------------------------


@dataclass
class UpResult:
    seconds: float
    summary: dict[str, Any]
    log: str

    @property
    def build(self) -> str:
        """'built' or 'unchanged, not rebuilt' (or '' when the build step did not run)."""
        return next((s["detail"] for s in self.summary.get("steps", [])
                     if s["step"].startswith("build ")), "")  # fmt: skip

    @property
    def layers(self) -> tuple[int, int]:
        """(steps taken from the layer cache, Dockerfile steps other than FROM), from the log."""
        steps = len(re.findall(r"(?m)^Step \d+/\d+ : (?!FROM )", self.log))
        cached = len(re.findall(r"(?m)^ ---> Using cache$", self.log))
        cached += len(re.findall(r"(?m)^#\d+ CACHED$", self.log))  # BuildKit's log
        return cached, steps


class Commands:
    """`modelstack up` and `destroy` as fresh processes; remembers a running one for cleanup."""

    def __init__(self, manifest: Path, build_flags: list[str]) -> None:
        self.manifest = manifest
        self.build_flags = build_flags
        self.running: subprocess.Popen[str] | None = None
        self.executable = _executable("modelstack")

    def up(self) -> UpResult:
        argv = [self.executable, "up", str(self.manifest), "--target", "local", "--yes",
                "--format", "json", *self.build_flags]  # fmt: skip
        started = time.perf_counter()
        self.running = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True,
        )  # fmt: skip
        try:
            stdout, stderr = self.running.communicate(timeout=UP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.stop_running()
            raise SystemExit(f"`modelstack up` took more than {UP_TIMEOUT_S:.0f} s") from None
        seconds = time.perf_counter() - started
        status = self.running.returncode
        self.running = None
        if status != 0:
            raise SystemExit(f"`modelstack up` failed with status {status}:\n{stderr}")
        return UpResult(seconds, json.loads(stdout), stderr)

    def destroy(self) -> None:
        self.stop_running()
        subprocess.run(
            [self.executable, "destroy", str(self.manifest), "--target", "local", "--yes"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=120, check=False,
        )  # fmt: skip

    def stop_running(self) -> None:
        """Interrupt an `up` still running (it rolls back), so `destroy` can take the lock."""
        process, self.running = self.running, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} is not installed")
    return found


def docker_lines(*args: str) -> list[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise SystemExit(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.split()


# --- the client load -------------------------------------------------------------------------


@dataclass
class Load:
    """Paced inference requests from `threads` threads, each on its own keep-alive connection,
    until stopped or a bound is reached (`max_requests` in all, `max_s`)."""

    port: int
    path: str
    threads: int = 4
    rate: float = 200.0
    max_requests: int = 15_000
    max_s: float = 60.0
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    revisions: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    bounded: bool = False
    """True when a bound, not stop(), ended the load."""

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._workers = [threading.Thread(target=self._run, args=(index,), daemon=True)
                         for index in range(self.threads)]  # fmt: skip

    @property
    def sent(self) -> int:
        return self._sent

    def start(self) -> Load:
        self._started = time.perf_counter()
        for worker in self._workers:
            worker.start()
        return self

    def stop(self) -> Load:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=30)
        return self

    def _take(self) -> bool:
        with self._lock:
            if self._sent >= self.max_requests or time.perf_counter() - self._started > self.max_s:
                self.bounded = True
                return False
            self._sent += 1
            return True

    def _run(self, index: int) -> None:
        interval = self.threads / self.rate if self.rate > 0 else 0.0
        connection: http.client.HTTPConnection | None = None
        next_at = time.perf_counter() + index * interval / self.threads  # staggered threads
        self._stop.wait(max(0.0, next_at - time.perf_counter()))
        while not self._stop.is_set() and self._take():
            if connection is None:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            started = time.perf_counter()
            try:
                connection.request("POST", self.path, body=BODY, headers=HEADERS)
                response = connection.getresponse()
                response.read()
                outcome = str(response.status)
                revision = response.getheader("X-Modelstack-Revision") or "-"
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = None
                outcome, revision = type(exc).__name__, "-"
            elapsed = time.perf_counter() - started
            with self._lock:
                self.latencies.append(elapsed)
                self.statuses[outcome] += 1
                self.revisions[revision] += 1
                if outcome != "200" and len(self.failures) < 20:
                    self.failures.append(f"{time.perf_counter() - self._started:.2f} s: {outcome}")
            next_at += interval
            delay = next_at - time.perf_counter()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.perf_counter()  # behind schedule: do not burst to catch up
        if connection is not None:
            connection.close()

    @property
    def failed(self) -> int:
        return sum(n for outcome, n in self.statuses.items() if outcome != "200")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def serving_backend(manifest: Path, version: str) -> str:
    routes = json.loads((manifest.parent / ".modelstack/local/local/routes.json").read_text())
    revision = next(r for r in routes["revisions"] if r["version"] == version)
    return str(revision["backends"][0])


@dataclass
class Round:
    """One round of the same load through each side: the router, the byte forwarder
    (`forwarder.py`, no framing at all) and straight to the container."""

    loads: dict[str, Load]
    seconds: float

    def added_p50(self, side: str) -> float:
        return percentile(self.loads[side].latencies, 50) - percentile(
            self.loads["direct"].latencies, 50
        )

    def throughput_ratio(self, side: str) -> float:
        direct = len(self.loads["direct"].latencies)
        return len(self.loads[side].latencies) / direct if direct else float("nan")


def compare_rounds(
    ports: dict[str, int], path: str, threads: int, rate: float, block_s: float, rounds: int,
    cpu_of: dict[str, int],
) -> tuple[list[Round], dict[str, tuple[float, float]]]:  # fmt: skip
    """Rounds of one block per side, the order reversed from round to round, so a drift in
    the machine's load falls on every side alike; with the CPU (user, system) that each
    process in `cpu_of` used during its own side's blocks."""
    result = []
    spent: dict[str, list[tuple[float, float]]] = {side: [] for side in cpu_of}
    for index in range(rounds):
        blocks = {}
        for side in list(ports) if index % 2 == 0 else list(ports)[::-1]:
            before = process_cpu_s(cpu_of[side]) if side in cpu_of else (0.0, 0.0)
            block = Load(ports[side], path, threads, rate, 15_000, block_s + 5).start()
            time.sleep(block_s)
            blocks[side] = block.stop()
            if side in cpu_of:
                user, system = process_cpu_s(cpu_of[side])
                spent[side].append((user - before[0], system - before[1]))
        result.append(Round(blocks, block_s))
    used = {side: (sum(u for u, _ in d), sum(s for _, s in d)) for side, d in spent.items()}
    return result, used


def merged(loads: list[Load]) -> Load:
    total = Load(0, "")
    for load in loads:
        total.latencies += load.latencies
        total.statuses.update(load.statuses)
    return total


def router_rows(
    ports: dict[str, int], path: str, threads: int, rate: float, rounds: int, block_s: float,
    cpu_of: dict[str, int],
) -> list[tuple[str, str, str, str]]:  # fmt: skip
    """The router and the byte forwarder against direct: paced latency, then unpaced
    throughput, each as the median of its per-round figures (pooled percentiles beside)."""
    rows = []
    paced, paced_cpu = compare_rounds(ports, path, threads, rate, block_s, rounds, cpu_of)
    for side, what in (("router", "through the router"), ("forwarder", "through the forwarder"),
                       ("direct", "direct to the container")):  # fmt: skip
        sample = merged([r.loads[side] for r in paced])
        rows.append((f"{what}, {rate:.0f} req/s ({len(sample.latencies)} requests, "
                     f"{sample.failed} failed): p50 / p99",
                     f"{_ms(percentile(sample.latencies, 50))} / "
                     f"{_ms(percentile(sample.latencies, 99))}", "", ""))  # fmt: skip
    floor = "the byte forwarder (no framing; the floor on this machine)"
    for side, what, target in (("router", "the router", 0.0002), ("forwarder", floor, None)):
        added = [r.added_p50(side) for r in paced]
        median = statistics.median(added)
        rows.append((f"latency {what} adds (p50; median of {rounds} rounds, min-max "
                     f"{_ms(min(added))}-{_ms(max(added))})", _ms(median),
                     "<= 0.20 ms" if target else "",
                     _ok(median <= target) if target else ""))  # fmt: skip
    for side, what in (("router", "router"), ("forwarder", "byte forwarder")):
        requests = sum(len(r.loads[side].latencies) for r in paced)
        user, system = paced_cpu[side]
        rows.append((f"{what} CPU per request, {rate:.0f} req/s (a CPU woken for each message)",
                     f"{(user + system) / max(requests, 1) * 1e6:.0f} µs", "", ""))  # fmt: skip
    unpaced, unpaced_cpu = compare_rounds(ports, path, threads, 0.0, block_s, rounds, cpu_of)
    ratios = [r.throughput_ratio("router") for r in unpaced]
    ratio = statistics.median(ratios)
    seconds = sum(r.seconds for r in unpaced)
    rates = {side: sum(len(r.loads[side].latencies) for r in unpaced) / seconds
             for side in ports}  # fmt: skip
    failed = sum(load.failed for r in unpaced for load in r.loads.values())
    rows.append((f"throughput, unpaced, {threads} threads: through the router / direct "
                 f"({failed} failed; ratio: median of {rounds} rounds, min-max "
                 f"{min(ratios):.2f}-{max(ratios):.2f}x; the forwarder "
                 f"{rates['forwarder']:,.0f} req/s)",
                 f"{rates['router']:,.0f} / {rates['direct']:,.0f} req/s ({ratio:.2f}x)",
                 ">= 0.80x", _ok(ratio >= 0.8)))  # fmt: skip
    requests = sum(len(r.loads["router"].latencies) for r in unpaced)
    rows.append(cpu_row(list(unpaced_cpu["router"]), requests, rates["direct"]))
    return rows


def cpu_row(used: list[float], requests: int, direct_rate: float) -> tuple[str, str, str, str]:
    """The router's CPU per request (all its threads) while unpaced, beside the CPU a direct
    request may take on this machine's cores (they were busy serving it): while the cores are
    the limit, throughput through the router is at most budget / (budget + router)."""
    user, system = used
    per_request = (user + system) / max(requests, 1)
    budget = (os.cpu_count() or 1) / direct_rate if direct_rate else float("nan")
    ceiling = budget / (budget + per_request)
    share = user / (user + system) if user + system else float("nan")
    return (f"router CPU per request, unpaced ({share:.0%} in user space; {os.cpu_count()} "
            f"cores / direct req/s = {budget * 1e6:.0f} µs a request, so at most {ceiling:.2f}x "
            "if the cores were the only limit)", f"{per_request * 1e6:.0f} µs", "", "")  # fmt: skip


@contextlib.contextmanager
def byte_forwarder(backend_port: int) -> Iterator[tuple[int, int]]:
    """`forwarder.py` in front of the container, as its own process: (its port, its pid)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("forwarder.py")), str(port),
         str(backend_port)], stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise SystemExit("bench/forwarder.py did not start")
        yield port, process.pid
    finally:
        process.kill()
        process.wait()


def router_pid(port: int) -> int:
    """The router's process id, from its status route."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/_modelstack/status")
        return int(json.loads(connection.getresponse().read())["pid"])
    finally:
        connection.close()


def process_cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds a process (all its threads) has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def lifecycle_rows(
    commands: Commands, manifest: Path, run_id: str, port: int, path: str, threads: int,
    rate: float, runs: int, notes: list[str], built_ids: set[str],
) -> tuple[list[tuple[str, str, str, str]], str]:  # fmt: skip
    """Steps 1b-3: a first `up` with a new image, no-change `up`s, a canary rollout under
    load; the rows and the version that serves at the end."""
    rows: list[tuple[str, str, str, str]] = []
    # 1b. First up again after destroy, with a new model version: a new image.
    commands.destroy()
    set_version(manifest, f"1.0.1-{run_id}")
    bumped = commands.up()
    built_ids.add(bumped.summary["image"])
    cached, steps = bumped.layers
    rows.append((f"first `up` (no state), new version -> new image: image "
                 f"{bumped.build}, {cached}/{steps} build steps cached",
                 f"{bumped.seconds:.1f} s", "< 60 s",
                 _ok(bumped.seconds < 60)))  # fmt: skip

    # 2. No change: same digest, nothing to rebuild or deploy.
    times = []
    for _ in range(runs):
        again = commands.up()
        if again.summary.get("result") != "unchanged":
            raise SystemExit(f"a no-change `up` deployed: {again.summary}")
        times.append(again.seconds)
    median = statistics.median(times)
    rows.append((f"no-change `up` (median of {runs}, min-max "
                 f"{min(times):.2f}-{max(times):.2f} s)", f"{median:.2f} s", "< 3 s",
                 _ok(median < 3)))  # fmt: skip

    # 3. Canary rollout under load.
    stable = str(bumped.summary["version"])
    set_version(manifest, f"1.0.2-{run_id}")
    load = Load(port, path, threads, rate).start()
    time.sleep(1.0)
    rollout = commands.up()
    time.sleep(1.0)
    load.stop()
    built_ids.add(rollout.summary["image"])
    candidate = str(rollout.summary["version"])
    answered = ", ".join(f"{v}: {n}" for v, n in sorted(load.revisions.items()))
    rows.append((f"canary `up` (10/50/100 %, 2 s intervals), image {rollout.build}",
                 f"{rollout.seconds:.1f} s", "", ""))  # fmt: skip
    pace = f"{rate:.0f}/s" if rate > 0 else "unpaced"
    rows.append((f"requests sent during the rollout ({threads} threads, {pace}; "
                 f"revisions answered: {answered})",
                 str(load.sent), "", ""))  # fmt: skip
    rows.append(("failed requests (non-200 or connection errors)", str(load.failed),
                 "0", _ok(load.failed == 0)))  # fmt: skip
    if load.bounded:
        notes.append("the client reached its bound before the rollout ended")
    if load.failures:
        notes.append("first failures: " + "; ".join(load.failures[:10]))
    if stable not in load.revisions or candidate not in load.revisions:
        notes.append(f"expected answers from revisions {stable} and {candidate}")
    rows.append(("through the router during the rollout: p50 / p99",
                 f"{_ms(percentile(load.latencies, 50))} / "
                 f"{_ms(percentile(load.latencies, 99))}", "", ""))  # fmt: skip
    return rows, candidate


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base-image", default=os.environ.get(
        "MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm"))  # fmt: skip
    parser.add_argument("--ca-bundle", default=os.environ.get("MODELSTACK_CA_BUNDLE"),
                        help="CA bundle for pip in the builder stage")  # fmt: skip
    parser.add_argument(
        "--name",
        default="iris",
        help="metadata.name of the copy; change it when iris is deployed locally already "
        "(containers are found by name and target)",
    )
    parser.add_argument("--runs", type=int, default=5, help="no-change `up` runs (1-20)")
    parser.add_argument("--threads", type=int, default=4, help="client threads (1-16)")
    parser.add_argument(
        "--rate",
        type=float,
        default=200.0,
        help="client requests per second in all (0: as fast as possible)",
    )
    parser.add_argument(
        "--router-only",
        action="store_true",
        help="only one `up`, then the router against direct (about a minute with the image cached)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="router/direct rounds (1-50)")
    parser.add_argument("--block-s", type=float, default=2.0,
                        help="seconds of load per side and round (0.5-30)")  # fmt: skip
    args = parser.parse_args()
    args.rounds = max(1, min(args.rounds, 50))
    args.block_s = max(0.5, min(args.block_s, 30.0))
    runs = max(1, min(args.runs, 20))
    threads = max(1, min(args.threads, 16))
    label = f"dev.modelstack.target={args.name}.local"
    if docker_lines("ps", "-aq", "--filter", f"label={label}"):
        raise SystemExit(f"containers labelled {label} exist already (another local deploy of "
                         f"'{args.name}'); pass --name with another name")  # fmt: skip
    build_flags = ["--base-image", args.base_image]
    if args.ca_bundle:
        build_flags += ["--ca-bundle", args.ca_bundle]
    images_before = set(docker_lines("image", "ls", "-q", "--no-trunc"))
    run_id = uuid.uuid4().hex[:6]
    rows: list[tuple[str, str, str, str]] = []
    notes: list[str] = []
    built_ids: set[str] = set()

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)  # even when started with SIGINT ignored
    with tempfile.TemporaryDirectory(prefix="modelstack-bench-up-") as tmp:
        port = free_port()
        manifest = prepare_copy(Path(tmp), args.name, port, interval_s=2)
        commands = Commands(manifest, build_flags)
        path = f"/v2/models/{args.name}/infer"
        try:
            # 1. First up, the example's model version.
            first = commands.up()
            built_ids.add(first.summary["image"])
            cached, steps = first.layers
            rows.append((f"first `up` (no state), version 1.0.0: image {first.build}, "
                         f"{cached}/{steps} build steps cached", f"{first.seconds:.1f} s",
                         "< 60 s", _ok(first.seconds < 60)))  # fmt: skip

            candidate = str(first.summary["version"])
            if not args.router_only:
                more, candidate = lifecycle_rows(
                    commands,
                    manifest,
                    run_id,
                    port,
                    path,
                    threads,
                    args.rate,
                    runs,
                    notes,
                    built_ids,
                )
                rows += more

            # 4-5. Router against direct: latency (paced), then throughput (unpaced).
            backend_port = int(serving_backend(manifest, candidate).rsplit(":", 1)[1])
            with byte_forwarder(backend_port) as (forwarder_port, forwarder_pid):
                rows += router_rows(
                    {"router": port, "forwarder": forwarder_port, "direct": backend_port},
                    path, threads, args.rate or 200.0, args.rounds, args.block_s,
                    {"router": router_pid(port), "forwarder": forwarder_pid},
                )  # fmt: skip
        except KeyboardInterrupt:
            print("interrupted; cleaning up", file=sys.stderr)
            return 130
        finally:
            commands.destroy()
            created = {i for i in built_ids if i and i not in images_before}
            for version in (f"1.0.1-{run_id}", f"1.0.2-{run_id}"):  # also after an interrupt
                created.update(
                    docker_lines(
                        "image",
                        "ls",
                        "-q",
                        "--no-trunc",
                        "--filter",
                        f"label=dev.modelstack.model.version={version}",
                    )
                )
            if created:
                subprocess.run(["docker", "image", "rm", "-f", *created], capture_output=True,
                               timeout=120, check=False)  # fmt: skip

    print("| measurement | value | target | ok |")
    print("|---|---:|---:|:-:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    for note in notes:
        print(f"\nNote: {note}")
    return 0 if all(row[3] != "no" for row in rows) else 1


def _ok(passed: bool) -> str:
    return "yes" if passed else "no"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
