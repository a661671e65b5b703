"""`modelstack monitor` on the local target: a real image with the build's reference profile,
the router, and traffic drawn from the reference, then with one feature shifted."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from example_copies import copy_example
from sklearn.datasets import load_iris

from modelstack.cli import main
from modelstack.image.containers import free_port

BASE_IMAGE = os.environ.get("MODELSTACK_BASE_IMAGE", "modelstack/base-python:bookworm")
BUILD_FLAGS = ["--base-image", BASE_IMAGE, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt"]
IRIS = load_iris().data.astype(np.float32)
MONITORING = """
monitoring:
  reference: {path: reference.npz}
  window: {requests: 200, slices: 4, min_rows: 100}
"""


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    folder = copy_example("iris", tmp_path / "iris")
    np.savez(folder / "reference.npz", float_input=IRIS)
    port = free_port()
    manifest = folder / "modelstack.yaml"
    text = manifest.read_text().replace("    port: 8080\n", f"    port: {port}\n")
    manifest.write_text(text + MONITORING)
    assert main(["up", str(manifest), "--target", "local", *BUILD_FLAGS]) == 0
    yield manifest, port
    main(["destroy", str(manifest), "--target", "local", "--yes"])


def send(port: int, rows: np.ndarray) -> None:
    """Five rows a request through the router, on one kept-alive connection (bounded)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for start in range(0, min(len(rows), 2000), 5):
            chunk = rows[start : start + 5]
            tensor = {"name": "float_input", "datatype": "FP32", "shape": list(chunk.shape),
                      "data": chunk.ravel().tolist()}  # fmt: skip
            body = {"inputs": [tensor]}
            connection.request("POST", "/v2/models/iris/infer", json.dumps(body),
                               {"Content-Type": "application/json"})  # fmt: skip
            response = connection.getresponse()
            assert response.status == 200, response.read()
            response.read()
    finally:
        connection.close()


def monitor(manifest: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["monitor", str(manifest), "--target", "local", "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


def test_reference_traffic_is_stable_and_a_shifted_feature_alone_crosses_the_alarm(
    deployed: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    manifest, port = deployed
    rng = np.random.default_rng(11)
    send(port, IRIS[rng.integers(0, len(IRIS), 1000)])
    code, report = monitor(manifest, capsys)
    assert code == 0, report
    psi = {row["name"]: row["psi"] for row in report["drift"]}
    assert len([n for n in psi if n.startswith("float_input[")]) == 4
    assert max(psi.values()) < 0.1, psi
    shifted = IRIS[rng.integers(0, len(IRIS), 1000)].copy()
    shifted[:, 2] += 3.0  # petal length
    send(port, shifted)
    code, report = monitor(manifest, capsys)
    assert code == 1, report
    psi = {row["name"]: row["psi"] for row in report["drift"]}
    assert psi["float_input[2]"] >= 0.25
    assert all(
        v < 0.1 for n, v in psi.items() if n.startswith("float_input[") and n != "float_input[2]"
    )
    assert report["breaches"] and all("float_input[2]" in b or "output" in b
                                      for b in report["breaches"])  # fmt: skip
