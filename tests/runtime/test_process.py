"""``python -m modelstack_runtime`` as a real process: start, ready, SIGTERM drains, exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from httputil import GOOD_X, Client
from runtime_models import linear_model, write_config

from modelstack_runtime import decode_response, encode_json_request

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            client = Client(port, timeout=1)
            status, _ = client.get_json("/v2/health/ready")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.02)
    raise AssertionError("server did not become ready")


@pytest.fixture
def process(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = write_config(tmp_path, linear_model())
    port = _free_port()
    env = dict(
        os.environ,
        MODELSTACK_RUNTIME_CONFIG=str(config),
        PORT=str(port),
        HOST="127.0.0.1",
        PYTHONPATH=str(REPO),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelstack_runtime"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _wait_ready(port, proc)
    yield proc, port
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def test_sigterm_finishes_in_flight_request_and_exits_zero(
    process: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = process
    body = encode_json_request({"float_input": GOOD_X}, request_id="in-flight")
    half = len(body) // 2
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:half]
    )
    time.sleep(0.2)  # the request is now in flight (headers parsed, body half read)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1)  # no longer accepting
    assert proc.poll() is None  # still finishing the in-flight request
    sock.sendall(body[half:])
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"Connection: close" in head
    assert json.loads(payload)["id"] == "in-flight"
    assert decode_response(payload)["label"].shape == (2,)
    assert proc.wait(10) == 0
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    access = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [entry["request_id"] for entry in access] == ["in-flight"]
    assert "shutting down" in log


def test_bad_config_exits_2_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "runtime.json"
    config.write_text(json.dumps({"model_name": "x"}))
    result = subprocess.run(
        [sys.executable, "-m", "modelstack_runtime"],
        env=dict(os.environ, MODELSTACK_RUNTIME_CONFIG=str(config), PYTHONPATH=str(REPO)),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert b"missing required key(s)" in result.stderr
