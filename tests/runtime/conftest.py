"""Fixtures: configs and servers on 127.0.0.1 for the tiny models in runtime_models.py."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from runtime_models import linear_model, text_model, write_config

from modelstack_runtime import RuntimeConfig, RuntimeServer, dataplane


@pytest.fixture
def linear_config(tmp_path: Path) -> RuntimeConfig:
    from modelstack_runtime import load_config

    return load_config(write_config(tmp_path, linear_model()))


@pytest.fixture
def text_config(tmp_path: Path) -> RuntimeConfig:
    from modelstack_runtime import load_config

    return load_config(write_config(tmp_path, text_model(), model_name="text"))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Tests that run an entry point's log set-up must not leak it into other tests."""
    runtime = logging.getLogger("modelstack_runtime")
    saved = (runtime.handlers[:], runtime.level, dataplane._access_sink)
    yield
    runtime.handlers[:], runtime.level = saved[0], saved[1]
    dataplane.set_access_sink(saved[2])


@pytest.fixture
def server(linear_config: RuntimeConfig) -> Iterator[RuntimeServer]:
    srv = RuntimeServer(linear_config)
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)


@pytest.fixture
def text_server(text_config: RuntimeConfig) -> Iterator[RuntimeServer]:
    srv = RuntimeServer(text_config)
    srv.start()
    srv.load()
    yield srv
    srv.stop(grace_s=5.0)
