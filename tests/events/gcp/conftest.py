"""A real runtime server (onnxruntime, the linear test model) receiving GCP-shaped events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelstack_runtime import RuntimeServer, load_config
from modelstack_runtime.events.config import EVENTS_CONFIG_ENV
from modelstack_runtime.events.gcp_clients import OBJECT_DIR_ENV
from tests.runtime.runtime_models import linear_model, write_config

EVENTS = {
    "sources": [
        {
            "name": "transactions",
            "kind": "queue",
            "queue": "projects/p/topics/transactions",
            "output": {"bucket": "results-bucket", "prefix": "scored/"},
        },
        {
            "name": "catalog",
            "kind": "bucket",
            "bucket": "images-bucket",
            "prefix": "incoming/",
            "output": {"bucket": "results-bucket", "prefix": "scored/"},
        },
    ]
}


@pytest.fixture
def buckets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder that stands for the buckets, with the sources above configured."""
    root = tmp_path / "buckets"
    monkeypatch.setenv(OBJECT_DIR_ENV, str(root))
    monkeypatch.setenv(EVENTS_CONFIG_ENV, json.dumps(EVENTS))
    return root


@pytest.fixture
def outputs(buckets: Path) -> Path:
    """Where the `transactions` source's results land: the folder of its output prefix."""
    return buckets / "results-bucket" / "scored"


@pytest.fixture
def events_server(tmp_path: Path, buckets: Path) -> Iterator[RuntimeServer]:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    srv = RuntimeServer(load_config(write_config(model_dir, linear_model())))
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)
