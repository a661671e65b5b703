"""Fixtures for the image tests.

Modules that need a real engine and the local registries (`scripts/docker-services`) set
`pytestmark = DOCKER`: marked `docker` and using the `docker_engine` fixture, which FAILS when
no engine answers (as in `tests/docker/conftest.py`), never skips. Deselect them with
`-m "not docker"`. The other tests here need no engine.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest


def _engine_answers() -> str | None:
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    return None if result.returncode == 0 else result.stderr.strip()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    problem = _engine_answers()
    if problem:
        pytest.fail(
            f"no Docker engine answers ({problem}). Start the engine and registries with "
            "scripts/docker-services, or deselect these tests with -m 'not docker'.",
            pytrace=False,
        )
