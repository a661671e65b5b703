"""Everything here runs against a real Docker engine and the local registries
(`scripts/docker-services`, which `scripts/test` runs). These tests fail when the engine does
not answer; they are never skipped. Deselect them with `-m "not docker"`."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _needs_docker(docker_engine: None) -> None:
    """Every test in this folder needs the engine."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.docker)
