"""Docker integration tests need a real engine and the local registries.

`scripts/test` starts them (scripts/docker-services). When the engine does not answer these
tests fail, loudly: they are never skipped. Deselect them on a machine without Docker with
`-m "not docker"`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

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


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> None:
    problem = _engine_answers()
    if problem:
        pytest.fail(
            f"no Docker engine answers ({problem}). Start the engine and registries with "
            "scripts/docker-services, or deselect these tests with -m 'not docker'.",
            pytrace=False,
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.docker)
