"""The runtime's HTTP server side by side with a trivial server and KServe's ModelServer.

Same client (``http.client`` keep-alive connections, one per thread), same model, same run,
loopback only:

* **trivial asyncio server**: answers every request with a fixed body of the size of the
  runtime's iris reply, without parsing more than the request head and length. It is the floor
  for a Python HTTP server.
* **modelstack**: ``python -m modelstack_runtime`` serving the iris-like model (JSON).
* **KServe ModelServer** (``kserve`` in a separate virtual environment given with
  ``--kserve-python``; never a dependency of modelstack): a ``kserve.Model`` that runs the same
  ONNX session, v2 JSON. Its uvicorn is made to bind 127.0.0.1 only.

Targets: runtime p50 at concurrency 1 at most 2.0x the trivial server; throughput at
concurrency 8 at least 3x KServe. Each server's CPU time per request at concurrency 1 (user +
system, from ``/proc``) is reported too: on a busy machine it varies less than latency.

Usage: ``python bench/bench_http.py [--kserve-python /path/to/venv/bin/python] [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from bench_runtime import (  # noqa: E402
    HttpCaller,
    Result,
    build_iris_like,
    free_port,
    make_inputs,
    measure,
    start_server,
)

from modelstack_runtime import RuntimeConfig, encode_json_request, load_dataplane  # noqa: E402

TRIVIAL = r"""
import asyncio, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
reply = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
         % size) + b"x" * size

class Trivial(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""
    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15:].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            self.transport.write(reply)

async def main():
    server = await asyncio.get_running_loop().create_server(Trivial, "127.0.0.1", port)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""

KSERVE = r"""
import sys, uuid
import numpy as np, onnxruntime as ort, uvicorn
_init = uvicorn.Config.__init__
def _loopback(self, *args, **kwargs):
    kwargs["host"] = "127.0.0.1"  # KServe hard-codes 0.0.0.0
    _init(self, *args, **kwargs)
uvicorn.Config.__init__ = _loopback
import kserve
from kserve import InferOutput, InferResponse

class OnnxModel(kserve.Model):
    def __init__(self, name, path):
        super().__init__(name)
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.ready = True
    def predict(self, payload, headers=None):
        feed = {tensor.name: tensor.as_numpy() for tensor in payload.inputs}
        names = [o.name for o in self.session.get_outputs()]
        outputs = []
        for name, value in zip(names, self.session.run(names, feed)):
            out = InferOutput(name=name, shape=list(value.shape), datatype="FP32")
            out.set_data_from_numpy(value, binary_data=False)
            outputs.append(out)
        return InferResponse(model_name=self.name, infer_outputs=outputs,
                             response_id=payload.id or uuid.uuid4().hex)

kserve.ModelServer(http_port=int(sys.argv[1]), enable_grpc=False, workers=1,
                   enable_latency_logging=False).start([OnnxModel("bench", sys.argv[2])])
"""


def start_script(python: str, script: str, args: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [python, "-c", script, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{script.split()[1]} server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def wait_kserve_ready(port: int, path: str, body: bytes) -> None:
    for _ in range(600):
        try:
            HttpCaller(port, path, body, {"Content-Type": "application/json"})()
            return
        except (RuntimeError, OSError):
            time.sleep(0.1)
    raise RuntimeError("KServe never answered")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its threads so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Side:
    """One server under test and its results, round by round."""

    def __init__(self, name: str, port: int, path: str, body: bytes, pid: int) -> None:
        self.name, self.port, self.path, self.body, self.pid = name, port, path, body, pid
        self.rounds: list[tuple[Result, Result]] = []
        self.cpu_us: list[float] = []  # per request at concurrency 1, one value per round

    def run_round(self, n1: int, n8: int) -> None:
        headers = {"Content-Type": "application/json"}
        make = lambda: HttpCaller(self.port, self.path, self.body, headers)  # noqa: E731
        before = cpu_seconds(self.pid)
        one = measure(self.name, make, 1, n1)
        requests = n1 + min(50, n1)  # measure() warms the connection up with 50 calls
        self.cpu_us.append((cpu_seconds(self.pid) - before) / requests * 1e6)
        self.rounds.append((one, measure(self.name, make, 8, n8)))

    def median(self, concurrency: int, key: str) -> float:
        index = 0 if concurrency == 1 else 1
        return statistics.median(getattr(r[index], key) for r in self.rounds)


def paired(a: Side, b: Side, concurrency: int, key: str) -> float:
    """The median over rounds of a's figure over b's (rounds alternate between the servers)."""
    index = 0 if concurrency == 1 else 1
    return statistics.median(
        getattr(x[index], key) / getattr(y[index], key)
        for x, y in zip(a.rounds, b.rounds, strict=True)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--kserve-python", help="python of a virtual environment with kserve")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per server")
    args = parser.parse_args()
    n1, n8 = (300, 60) if args.quick else (1000, 200)
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-"))
    model_path = build_iris_like(workdir)
    config_data = {
        "model_name": "bench",
        "model_version": "1",
        "model_path": str(model_path),
        "max_concurrency": 8,  # as many as the client sends at once, as on Cloud Run
    }
    config_path = workdir / "runtime.json"
    config_path.write_text(json.dumps(config_data))
    dataplane = load_dataplane(RuntimeConfig.from_dict(config_data))
    assert dataplane.model is not None
    body = encode_json_request(make_inputs(dataplane.model.signature.inputs))
    path = "/v2/models/bench/infer"

    procs: list[subprocess.Popen[bytes]] = []
    try:
        proc, port, _ = start_server(config_path)
        procs.append(proc)
        ours = Side("modelstack", port, path, body, proc.pid)
        reply_size = len(HttpCaller(port, path, body, {"Content-Type": "application/json"})())
        trivial_port = free_port()
        procs.append(start_script(sys.executable, TRIVIAL, [str(trivial_port), str(reply_size)],
                                  trivial_port))  # fmt: skip
        sides = [ours, Side("trivial asyncio", trivial_port, path, body, procs[-1].pid)]
        if args.kserve_python:
            kserve_port = free_port()
            kserve_args = [str(kserve_port), str(model_path)]
            procs.append(start_script(args.kserve_python, KSERVE, kserve_args, kserve_port))
            wait_kserve_ready(kserve_port, path, body)
            sides.append(Side("KServe ModelServer", kserve_port, path, body, procs[-1].pid))
        for _ in range(args.rounds):
            for side in sides:
                side.run_round(n1, n8)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    report(sides, reply_size, args)
    return 0


def report(sides: list[Side], reply_size: int, args: argparse.Namespace) -> None:
    print(
        f"HTTP servers side by side: iris-like model, JSON, keep-alive, {os.cpu_count()} CPUs, "
        f"reply {reply_size} bytes, {args.rounds} alternating rounds"
        f"{' (--quick)' if args.quick else ''}; medians over rounds\n"
    )
    print("| server | concurrency | p50 ms | p99 ms | req/s | server CPU us/request |")
    print("|---|---:|---:|---:|---:|---:|")
    for side in sides:
        for c in (1, 8):
            cpu = f"{statistics.median(side.cpu_us):.0f}" if c == 1 else ""
            print(
                f"| {side.name} | {c} | {side.median(c, 'p50'):.3f} | {side.median(c, 'p99'):.3f} "
                f"| {side.median(c, 'throughput'):,.0f} | {cpu} |"
            )
    ours, trivial = sides[0], sides[1]
    print()
    print("| ratio (median of per-round ratios) | value | target |")
    print("|---|---:|---|")
    print(f"| p50 at concurrency 1, modelstack / trivial | {paired(ours, trivial, 1, 'p50'):.2f}x "
          "| at most 2.0x |")  # fmt: skip
    cpu_ratio = statistics.median(a / b for a, b in zip(ours.cpu_us, trivial.cpu_us, strict=True))
    print(f"| server CPU per request at concurrency 1, modelstack / trivial | {cpu_ratio:.2f}x | |")
    if len(sides) > 2:
        kserve = sides[2]
        print(f"| req/s at concurrency 8, modelstack / KServe "
              f"| {paired(ours, kserve, 8, 'throughput'):.2f}x | at least 3x |")  # fmt: skip
        print(f"| p50 at concurrency 1, modelstack / KServe "
              f"| {paired(ours, kserve, 1, 'p50'):.2f}x | |")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
