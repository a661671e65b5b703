"""`modelstack serve`: the runtime's HTTP server on 127.0.0.1, started like a developer would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris" / "modelstack.yaml"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with OPENER.open(req, timeout=5) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


class Server:
    def __init__(self, process: subprocess.Popen[str], port: int, log: Path) -> None:
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "modelstack", "serve", str(IRIS), "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    srv = Server(process, port, log)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, f"serve exited early:\n{srv.output()}"
            try:
                status, _ = request(f"{srv.base}/v2/health/ready")
            except OSError:
                status = 0
            if status == 200:
                break
            assert time.monotonic() < deadline, f"not ready after 30 s:\n{srv.output()}"
            time.sleep(0.1)
        yield srv
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_serve_answers_and_stops_cleanly_on_sigterm(server: Server) -> None:
    status, body = request(
        f"{server.base}/v2/models/iris/infer",
        {
            "inputs": [
                {
                    "name": "float_input",
                    "datatype": "FP32",
                    "shape": [2, 4],
                    "data": [5.1, 3.4, 1.5, 0.2, 6.3, 3.4, 5.6, 2.4],
                }
            ]
        },
    )
    assert status == 200, body
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"]["data"] == [0, 2]  # setosa, virginica
    assert outputs["label"]["datatype"] == "INT64"
    assert outputs["probabilities"]["shape"] == [2, 3]
    assert outputs["probabilities"]["data"][0] > 0.9

    status, metadata = request(f"{server.base}/v2/models/iris")
    assert status == 200
    assert metadata["name"] == "iris"
    assert metadata["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]
    assert {o["name"]: (o["datatype"], o["shape"]) for o in metadata["outputs"]} == {
        "label": ("INT64", [-1]),
        "probabilities": ("FP32", [-1, 3]),
    }

    status, body = request(f"{server.base}/v2/models/nope/infer", {"inputs": []})
    assert status == 404
    assert "error" in body

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=10) == 0
    log = server.output()
    port = server.base.rsplit(":", 1)[1]
    assert f"serving iris 1.0.0 on http://127.0.0.1:{port}" in log
    assert f"listening on 127.0.0.1:{port}" in log  # the runtime's own line, after binding
    assert "ready in" in log
    assert "0.0.0.0" not in log
    assert "Traceback" not in log


def test_serve_refuses_a_manifest_whose_model_does_not_match(tmp_path: Path) -> None:
    bundle = tmp_path / "iris"
    bundle.mkdir()
    (bundle / "model.onnx").write_bytes((IRIS.parent / "model.onnx").read_bytes())
    text = IRIS.read_text(encoding="utf-8").replace(
        "sha256: 9ea86fb53c2fa87900721eff8c341756ac782f5377a38b6e6e3f9fe2cc194f89",
        "sha256: " + "0f" * 32,
    )
    (bundle / "modelstack.yaml").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "modelstack", "serve", str(bundle / "modelstack.yaml"),
         "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "sha256 mismatch" in result.stderr
    assert "serving" not in result.stderr


def run_serve(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """`modelstack serve ARGS` expected to refuse at once (a timeout here is a failure)."""
    return subprocess.run(
        [sys.executable, "-m", "modelstack", "serve", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_serve_refuses_a_port_outside_the_tcp_range(port: str) -> None:
    result = run_serve(IRIS, "--port", port)
    assert result.returncode == 2
    assert f"--port {port} is not a TCP port; choose one from 1 to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_on_a_busy_port_is_a_usage_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_serve(IRIS, "--port", str(port))
    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_model_that_fails_on_its_warm_up_input(
    warmup_failing_bundle: Path,
) -> None:
    result = run_serve(warmup_failing_bundle, "--port", str(free_port()))
    assert result.returncode == 1
    assert "the model failed on its warm-up input (the first smoke test's)" in result.stderr
    assert "serving" not in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_manifest_that_is_a_directory() -> None:
    result = run_serve(IRIS.parent, "--port", str(free_port()))
    assert result.returncode == 2
    assert "it is a directory, not a regular file" in result.stderr
