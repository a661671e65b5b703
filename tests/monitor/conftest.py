"""Fixtures: a runtime server on 127.0.0.1 serving the test classifier."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from monitorkit import Client, runtime_config

from modelstack_runtime import RuntimeServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RuntimeServer]:
    srv = RuntimeServer(runtime_config(tmp_path))
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)


@pytest.fixture
def client(server: RuntimeServer) -> Iterator[Client]:
    c = Client(server.port)
    yield c
    c.close()
