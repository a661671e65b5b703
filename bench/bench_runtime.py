"""Benchmark of modelstack_runtime against raw onnxruntime ``session.run`` on the same inputs.

Measures, in one run on loopback only:

* p50/p99 latency and throughput at concurrency 1 and 8 for raw ``session.run``, the HTTP server
  (JSON and binary, persistent keep-alive connections via ``http.client``) and the Lambda
  handler called in-process;
* process start-to-ready against a minimal script that imports onnxruntime, creates the
  session and runs it once;
* a 1,000,000-float request end to end, JSON against binary.

Usage: ``python bench/bench_runtime.py [--model PATH] [--quick]``. Without ``--model`` it builds
a small iris-like model (FP32 [-1, 4] -> [-1, 3]) in a temporary directory.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from modelstack_runtime import (  # noqa: E402
    V2_TO_NUMPY,
    LambdaAdapter,
    RuntimeConfig,
    configure_logging,
    decode_response,
    encode_binary_request,
    encode_json_request,
    load_dataplane,
)
from modelstack_runtime.signature import TensorSpec  # noqa: E402

HEADER = "Inference-Header-Content-Length"


def build_iris_like(directory: Path) -> Path:
    """softmax(x @ W + b): FP32 [-1, 4] -> [-1, 3], the shape of a scikit-learn iris model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    b = rng.normal(size=3).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["float_input", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "B"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "iris_like",
        [helper.make_tensor_value_info("float_input", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = directory / "model.onnx"
    onnx.save(model, str(path))
    return path


def make_inputs(specs: tuple[TensorSpec, ...], elements: int | None = None) -> dict[str, Any]:
    """Random inputs; dynamic dims are 1, or the first one sized to ``elements`` in total."""
    rng = np.random.default_rng(1)
    inputs: dict[str, Any] = {}
    for spec in specs:
        fixed = math.prod(d for d in spec.shape if d != -1) or 1
        first = max(1, (elements or fixed) // fixed) if elements else 1
        shape = []
        for dim in spec.shape:
            shape.append(dim if dim != -1 else first)
            if dim == -1:
                first = 1
        dtype = V2_TO_NUMPY[spec.datatype]
        if spec.datatype == "BYTES":
            array = np.full(shape, b"text", dtype=object)
        elif dtype.kind == "f":
            array = rng.normal(size=shape).astype(dtype)
        else:
            array = rng.integers(0, 2, size=shape).astype(dtype)
        inputs[spec.name] = array
    return inputs


# --- measurement -----------------------------------------------------------------------------


class Result:
    def __init__(self, name: str, concurrency: int, latencies: list[float], wall: float) -> None:
        self.name = name
        self.concurrency = concurrency
        ordered = sorted(latencies)
        self.p50 = ordered[len(ordered) // 2] * 1000
        self.p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        self.throughput = len(latencies) / wall


def measure(
    name: str, make_call: Callable[[], Callable[[], Any]], concurrency: int, per_worker: int
) -> Result:
    """Run ``per_worker`` calls on each of ``concurrency`` threads (one call object each)."""
    calls = [make_call() for _ in range(concurrency)]
    for call in calls:  # warm up every connection / thread
        for _ in range(min(50, per_worker)):
            call()
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    start_gate = threading.Barrier(concurrency + 1)

    def worker(index: int) -> None:
        call, out = calls[index], latencies[index]
        clock = time.perf_counter
        start_gate.wait()
        for _ in range(per_worker):
            t0 = clock()
            call()
            out.append(clock() - t0)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start_gate.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return Result(name, concurrency, [x for part in latencies for x in part], wall)


class HttpCaller:
    """A persistent keep-alive connection posting one prepared body."""

    def __init__(self, port: int, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.path, self.body, self.headers = path, body, headers

    def __call__(self) -> bytes:
        self.conn.request("POST", self.path, self.body, self.headers)
        response = self.conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data


# --- server process --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> float:
    """Poll /v2/health/ready until 200; returns the monotonic time it answered."""
    request = b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return time.monotonic()
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError("server did not become ready")


def child_env(workdir: Path) -> dict[str, str]:
    """Environment of child processes: the runtime installed with its bytecode compiled.

    pip compiles bytecode at install time, as image builds do; a checkout run with
    PYTHONDONTWRITEBYTECODE=1 would instead recompile every runtime module on every start.
    """
    site = workdir / "site"
    if not site.exists():
        shutil.copytree(
            REPO / "modelstack_runtime",
            site / "modelstack_runtime",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(site)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return dict(os.environ, PYTHONPATH=str(site))


def start_server(config_path: Path) -> tuple[subprocess.Popen[bytes], int, float]:
    port = free_port()
    env = dict(
        child_env(config_path.parent),
        MODELSTACK_RUNTIME_CONFIG=str(config_path),
        PORT=str(port),
        HOST="127.0.0.1",
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelstack_runtime"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ready = wait_ready(port, proc)
    return proc, port, ready - started


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


MINIMAL = """
import sys, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
feed = {}
for i in s.get_inputs():
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    kind = i.type
    dtype = np.float32 if kind == "tensor(float)" else np.float64 if kind == "tensor(double)" \
        else np.int64 if kind == "tensor(int64)" else np.int32
    feed[i.name] = np.zeros(shape, dtype=dtype)
s.run(None, feed)
"""


def start_to_ready(config_path: Path, model_path: Path, repeats: int) -> tuple[float, float, float]:
    """Medians of both start-up times, and the median of the paired ratios.

    Runs alternate, so load from elsewhere on the machine hits both sides alike.
    """
    env = child_env(config_path.parent)
    ours, minimal = [], []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", MINIMAL, str(model_path)], check=True, env=env)
        minimal.append(time.monotonic() - started)
        proc, _, seconds = start_server(config_path)
        ours.append(seconds)
        stop_server(proc)
    ratio = statistics.median(a / b for a, b in zip(ours, minimal, strict=True))
    return statistics.median(ours), statistics.median(minimal), ratio


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", type=Path, help="ONNX model (default: a built iris-like one)")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    quick = args.quick
    n1, n8 = (300, 60) if quick else (3000, 500)

    workdir = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    model_path = args.model.resolve() if args.model else build_iris_like(workdir)
    config_data = {
        "model_name": "bench",
        "model_version": "1",
        "model_path": str(model_path),
        "max_request_bytes": 256 * 1024 * 1024,
        "max_json_values": 4 * 1024 * 1024,  # the 1,000,000-float JSON request
        "max_concurrency": 8,  # as many as the client sends at once, as on Cloud Run
    }
    config_path = workdir / "runtime.json"
    config_path.write_text(json.dumps(config_data))
    config = RuntimeConfig.from_dict(config_data)

    configure_logging(open(os.devnull, "w"))  # noqa: SIM115 - access lines are written, not shown
    dataplane = load_dataplane(config, emf_namespace="modelstack")
    model = dataplane.model
    assert model is not None
    inputs = make_inputs(model.signature.inputs)
    session = model.session
    names = list(model.signature.output_names)
    feed = dict(inputs)

    json_body = encode_json_request(inputs)
    binary_body, binary_length = encode_binary_request(inputs)
    event = json.loads(json_body)
    adapter = LambdaAdapter(dataplane)
    path = "/v2/models/bench/infer"
    json_headers = {"Content-Type": "application/json"}
    binary_headers = {HEADER: str(binary_length), "Content-Type": "application/octet-stream"}

    proc, port, _ = start_server(config_path)
    results: list[Result] = []
    try:
        for concurrency, per_worker in ((1, n1), (8, n8)):
            results.append(
                measure("raw session.run", lambda: lambda: session.run(names, feed), concurrency,
                        per_worker)
            )  # fmt: skip
            results.append(
                measure("Lambda handler (in-process)", lambda: lambda: adapter(event), concurrency,
                        per_worker)
            )  # fmt: skip
            results.append(
                measure("HTTP JSON", lambda: HttpCaller(port, path, json_body, json_headers),
                        concurrency, per_worker)
            )  # fmt: skip
            results.append(
                measure("HTTP binary",
                        lambda: HttpCaller(port, path, binary_body, binary_headers),
                        concurrency, per_worker)
            )  # fmt: skip
        big = big_payload(port, path, model.signature.inputs, 2 if quick else 5)
    finally:
        stop_server(proc)
    startup = start_to_ready(config_path, model_path, 5 if quick else 15)
    report(results, startup, big, model_path if args.model else None, quick)
    return 0


def big_payload(
    port: int, path: str, specs: tuple[TensorSpec, ...], repeats: int
) -> tuple[float, float, int, int]:
    """End-to-end seconds (median) for ~1,000,000 floats as JSON and as binary."""
    inputs = make_inputs(specs, elements=1_000_000)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def run_json() -> dict[str, np.ndarray]:
        body = encode_json_request(inputs)
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return decode_response(response.read())

    def run_binary() -> dict[str, np.ndarray]:
        body, length = encode_binary_request(inputs)
        conn.request("POST", path, body, {HEADER: str(length)})
        response = conn.getresponse()
        data = response.read()
        return decode_response(data, int(response.getheader(HEADER) or 0) or None)

    timings = {}
    for name, run in (("json", run_json), ("binary", run_binary)):
        run()
        samples = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run()
            samples.append(time.perf_counter() - t0)
        timings[name] = statistics.median(samples)
    conn.close()
    json_size = len(encode_json_request(inputs))
    binary_size = len(encode_binary_request(inputs)[0])
    return timings["json"], timings["binary"], json_size, binary_size


def report(
    results: list[Result],
    startup: tuple[float, float, float],
    big: tuple[float, float, int, int],
    model: Path | None,
    quick: bool,
) -> None:
    raw = {r.concurrency: r for r in results if r.name == "raw session.run"}
    print(
        f"modelstack_runtime benchmark: {model or 'built-in iris-like model FP32 [-1,4]->[-1,3]'}"
        f"{' (--quick)' if quick else ''}; Python {platform.python_version()}, "
        f"onnxruntime {ort.__version__}, {os.cpu_count()} CPUs, loopback\n"
    )
    print("| path | concurrency | p50 ms | p99 ms | req/s | p50 over raw |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in sorted(results, key=lambda r: (r.concurrency, results.index(r))):
        over = r.p50 - raw[r.concurrency].p50
        over_text = "-" if r.name == "raw session.run" else f"+{over:.3f} ms"
        print(
            f"| {r.name} | {r.concurrency} | {r.p50:.3f} | {r.p99:.3f} | {r.throughput:,.0f} "
            f"| {over_text} |"
        )
    print()
    ready, minimal, ratio = startup
    print("| start-up (median) | seconds |")
    print("|---|---:|")
    print(f"| `python -m modelstack_runtime` to /v2/health/ready = 200 | {ready:.3f} |")
    print(f"| minimal script (import onnxruntime, session, one run) | {minimal:.3f} |")
    print(f"| ratio (median of paired runs) | {ratio:.2f}x |")
    print()
    json_s, binary_s, json_size, binary_size = big
    print("| 1,000,000 FP32 end to end (encode, HTTP, infer, decode) | seconds | request MB |")
    print("|---|---:|---:|")
    print(f"| JSON | {json_s:.3f} | {json_size / 1e6:.1f} |")
    print(f"| binary tensor extension | {binary_s:.3f} | {binary_size / 1e6:.1f} |")
    print(f"| binary speed-up | {json_s / binary_s:.1f}x | |")


if __name__ == "__main__":
    raise SystemExit(main())
